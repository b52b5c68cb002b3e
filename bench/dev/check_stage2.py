"""A second stage for the TF-IDF check, tried: where the check would raise the weight, cross-validate the hybrid
itself at the auto weight and at the raised one (the check's folds) and raise only if the raised one is not worse.
Development rows only. python bench/dev/check_stage2.py ag_source:8,trec_wh:64 0,1,2
Run at d7b9eae, before the second stage was built in: it reads the first stage's decision from the manifest, which
now holds the second stage's (check out d7b9eae to rerun it)."""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _util import k_per_class  # noqa: E402
from tfidf_check import split  # noqa: E402

from llmclf import Classifier  # noqa: E402
from llmclf.calibration import stratified_folds  # noqa: E402
from llmclf.examples import Source  # noqa: E402
from llmclf.head import solver_for  # noqa: E402

print("load", os.getloadavg())
for spec in sys.argv[1].split(","):
    name, k = spec.split(":")
    pool, dev = split(name)
    texts, truth = [r["text"] for r in dev], list(r["label"] for r in dev)
    for seed in (int(s) for s in sys.argv[2].split(",")):
        rows = k_per_class(pool, int(k), seed)
        X, y = [r["text"] for r in rows], [r["label"] for r in rows]
        clf = Classifier().fit(X, y)
        chk = clf.manifest()["training"]["tfidf_check"]
        auto, raised = chk["auto"], chk["weight"]
        acc_raised = clf.score(texts, truth)
        acc_auto = Classifier(tfidf_weight=auto).fit(X, y).score(texts, truth)
        if raised == auto:
            print(f"{name} {k} seed {seed}: kept; dev auto {acc_auto:.3f}", flush=True)
            continue
        examples = clf.training_examples()
        E = clf.embed([e.text for e in examples])
        classes = sorted(set(y))
        index = {c: i for i, c in enumerate(classes)}
        y_idx = np.array([index[e.label] for e in examples])
        held = np.array([i for i, e in enumerate(examples) if e.source is not Source.DESCRIPTION])
        always = np.array([i for i, e in enumerate(examples) if e.source is Source.DESCRIPTION])
        if len(held) > 1000:
            held = np.sort(np.random.default_rng(0).choice(held, 1000, replace=False))
        fold_of = stratified_folds(y_idx[held], 3)
        right = {auto: 0, raised: 0}
        for f in range(3):
            test = held[fold_of == f]
            train = np.concatenate([always, np.setdiff1d(held, test)])
            fold = [examples[i] for i in train]
            for w in right:
                h = clf._fit_head(E[train], [e.label for e in fold], classes, [e.text for e in fold], fold, w,
                                  solver_for(len(train)))
                right[w] += int((h.logits(E[test], [examples[i].text for i in test]).argmax(1) == y_idx[test]).sum())
        print(f"{name} {k} seed {seed}: raised {auto}->{raised}; CV right auto {right[auto]} raised {right[raised]} "
              f"of {len(held)}; dev auto {acc_auto:.3f} raised {acc_raised:.3f}", flush=True)
print("load", os.getloadavg())
