# Exploratory (session 8): dev-row ECE of --finetune's head (ftcal.py's logits) at T = 1, at the prior temperature
# that --calibrate uses at this many examples per class, and at the oracle T fitted on the dev rows themselves.
import os, glob
import numpy as np
from llmclf.head import softmax, fit_temperature, prior_temperature
from llmclf.evaluation import expected_calibration_error as ECE
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
def ece(z, y, T):
    p = softmax(z / T); return ECE(p.max(1), p.argmax(1) == y)[0]
print("| run | accuracy | T = 1 | prior T | ECE at prior T | oracle T | ECE at oracle T |")
print("|---|---|---|---|---|---|---|")
for f in sorted(glob.glob(f"{CACHE}/ftcal/*.npz")):
    z = dict(np.load(f)); dz, dy = z["dev_z"], z["dev_y"]
    prior = prior_temperature(float(z["per_class"])); To = fit_temperature(dz, dy)
    print(f"| {os.path.basename(f)[:-4]} | {(dz.argmax(1) == dy).mean():.3f} | {ece(dz, dy, 1):.3f} | {prior:.2f} | {ece(dz, dy, prior):.3f} | {To:.2f} | {ece(dz, dy, To):.3f} |")
