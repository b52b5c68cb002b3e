# Exploratory, run as-is from a scratch folder on 2026-11-24 (see README.md here); only paths were edited.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
import sys, json, numpy as np, time
sys.path.insert(0, 'bench')
from _util import load_split, shuffled, DATA
from llmclf.embedding import get_embedder
import yaml
from llmclf.descriptions import description_examples
name = sys.argv[2] if len(sys.argv) > 2 else None
emb = get_embedder(sys.argv[1] if len(sys.argv) > 1 else None)
for d in ["trec","ag_news","sst2","banking77","snips","emotion"]:
    out = f"{CACHE}/{emb.id}-{d}.npz"
    import os
    if os.path.exists(out): continue
    train = load_split(d, "train"); test = shuffled(load_split(d, "test"))[:2000]
    labels = (DATA / d / "labels.txt").read_text().split()
    descs = yaml.safe_load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "descriptions", f"{d}.yaml")))
    extra = [e.text for l in labels for e in description_examples(l, descs.get(l))] + [e.text for l in labels for e in description_examples(l, None)]
    texts = list(dict.fromkeys([r["text"] for r in train] + [r["text"] for r in test] + extra))
    t = time.time(); V = emb.embed(texts); print(d, len(texts), time.time()-t, flush=True)
    np.savez(out, texts=np.array(texts, dtype=object), V=V.astype(np.float32))
