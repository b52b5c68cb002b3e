# Diagnostic (session 8), after the suite's test run had shown ECE 0.103 for --finetune --calibrate on banking77:
# is the prior-tempered tuned head over- or under-confident on the TEST rows? Nothing was chosen from it.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from suite import MAX_TEST, train_classifier
from llmclf.head import softmax, fit_temperature
from llmclf.evaluation import expected_calibration_error as ECE
d = "banking77"; seed = int(sys.argv[1])
labels = (DATA / d / "labels.txt").read_text().split()
descs = yaml.safe_load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "descriptions", f"{d}.yaml")))
train = load_split(d, "train"); test = shuffled(load_split(d, "test"))[:MAX_TEST]
rows = k_per_class(train, 10, seed=seed)
clf, _ = train_classifier(None, labels, descs, rows, finetune=True)
texts = [r["text"] for r in test]
z = clf.head.logits(clf.embed(texts), texts)
idx = {c: i for i, c in enumerate(clf.class_names)}; y = np.array([idx[r["label"]] for r in test])
for T in (1.0, 0.517, fit_temperature(z, y)):
    p = softmax(z / T); e, _ = ECE(p.max(1), p.argmax(1) == y)
    print(f"T {T:.3f} acc {(p.argmax(1) == y).mean():.3f} mean confidence {p.max(1).mean():.3f} ECE {e:.3f}", flush=True)
cal, _ = train_classifier(clf.embedder_, labels, descs, rows, calibrate=True)  # as the suite's "fine-tuned, calibrated"
p = cal.predict_proba(texts); y2 = np.array([cal.class_names.index(r["label"]) for r in test])
print("suite's way: T", round(cal.head.temperature, 3), cal.calibration.get("folds"), "ECE %.3f" % ECE(p.max(1), p.argmax(1) == y2)[0])
