"""--calibrate with its folds fitted by newton-cg up to 2,000 rows (head.solver_for) against lbfgs folds: fit time,
the temperature per seed and development-row ECE. python bench/dev/calsolver.py trec,emotion,banking77"""
import sys, time, os, functools
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np
from tfidf_check import split
from _util import k_per_class
import llmclf.calibration as CAL
from llmclf import Classifier
from llmclf.evaluation import expected_calibration_error
orig = CAL.solver_for
print("load", os.getloadavg())
for name in sys.argv[1].split(","):
    pool, dev = split(name); texts = [r["text"] for r in dev]; truth = np.array([r["label"] for r in dev])
    k = 10 if name == "banking77" else 8
    out = {}
    for seed in (0, 1, 2):
        rows = k_per_class(pool, k, seed); X, y = [r["text"] for r in rows], [r["label"] for r in rows]
        Classifier(tfidf_weight=0).fit(X, y)
        for solver in ("lbfgs", "newton-cg"):
            CAL.solver_for = orig if solver == "newton-cg" else (lambda rows: "lbfgs")
            t = time.perf_counter(); clf = Classifier(calibrate=True).fit(X, y); s = time.perf_counter() - t
            P = clf.predict_proba(texts); idx = {c: i for i, c in enumerate(clf.classes_)}
            yi = np.array([idx[v] for v in truth])
            ece = expected_calibration_error(P.max(1), P.argmax(1) == yi)[0]
            out.setdefault(solver, []).append((s, clf.calibration["temperature"], ece))
    for solver, v in out.items():
        v = np.array(v); print(f"{name} {solver}: fit {v[:,0].mean():.2f}s T {' '.join(f'{t:.4f}' for t in v[:,1])} ECE {v[:,2].mean():.4f}", flush=True)
CAL.solver_for = orig
print("load", os.getloadavg())
