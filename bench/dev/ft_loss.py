# Exploratory (2026-11-24, session 7): the fine-tune's loss on DEV rows (common.data), k-shot + descriptions.
# Run at commit edfbea6 ("cos" is that commit's pairs loss; "supcon" the in-batch loss llmclf.finetune ships since).
# python ft_loss.py banking77 supcon:20:32,cos 0   (NCLS=20: the first 20 classes only; PAIRS=8000: the budget)
import os, sys, time, random
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import llmclf.finetune as ft
from llmclf.finetune import _require_torch, export, FinetuneResult, make_pairs, BATCH, LEARNING_RATE, MAX_TOKENS
orig = ft.finetune_minilm
MODE = {"m": "cos", "scale": 20.0, "batch": 32, "steps": None}

def supcon(texts, labels, *, pairs=4000, seed=0, threads=None, on_progress=None):
    torch, transformers, source = _require_torch()
    start = time.perf_counter(); torch.manual_seed(seed); rng = random.Random(seed)
    transformers.logging.set_verbosity_error()
    tok = transformers.AutoTokenizer.from_pretrained(str(source)); model = transformers.AutoModel.from_pretrained(str(source))
    model.embeddings.word_embeddings.weight.requires_grad_(False)
    def encode(b):
        t = tok(b, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        h = model(**t).last_hidden_state; m = t["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1)
    by = {}
    for t, l in zip(texts, labels): by.setdefault(l, []).append(t)
    names = list(by); B = MODE["batch"]
    # same text encodings as the pair budget: pairs*2 encodings -> steps of 2B encodings (anchor + positive)
    steps = MODE["steps"] or max(1, (2 * pairs) // (2 * B))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LEARNING_RATE)
    model.train()
    idx = list(range(len(texts)))
    order = []
    for s in range(steps):
        if len(order) < B: order += rng.sample(idx, len(idx))
        batch, order = order[:B], order[B:]
        # one anchor per distinct class in the batch is not forced; positives: another text of its class
        a = [texts[i] for i in batch]; la = [labels[i] for i in batch]
        p = [rng.choice(by[l]) for l in la]
        u, v = encode(a), encode(p)
        lab = torch.tensor([names.index(l) for l in la])
        sim = u @ v.T * MODE["scale"]
        same = (lab[:, None] == lab[None, :]).float()
        logp = sim - torch.logsumexp(sim, dim=1, keepdim=True)
        loss = -((logp * same).sum(1) / same.sum(1)).mean()
        opt.zero_grad(); loss.backward(); opt.step()
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    return FinetuneResult(export(state), steps * B, time.perf_counter() - start, len(texts))

d = sys.argv[1]; modes = sys.argv[2].split(","); seeds = [int(s) for s in sys.argv[3].split(",")]
labels, descs, pool, dev = data(d)
import os
if os.environ.get("NCLS"):
    n = int(os.environ["NCLS"]); keep = set(sorted(labels)[:n])
    labels = [l for l in labels if l in keep]; pool = [r for r in pool if r["label"] in keep]; dev = [r for r in dev if r["label"] in keep]
    print("subset", n, "classes", len(dev), "dev rows")
if os.environ.get("PAIRS"):
    ft.finetune_minilm.__kwdefaults__["pairs"] = int(os.environ["PAIRS"]); supcon.__kwdefaults__["pairs"] = int(os.environ["PAIRS"])
k = 10 if d == "banking77" else 8
for m in modes:
    name, *opts = m.split(":")
    if opts: MODE["scale"] = float(opts[0])
    if len(opts) > 1: MODE["batch"] = int(opts[1])
    ft.finetune_minilm = orig if name == "cos" else supcon
    accs = []
    for seed in seeds:
        rows = k_per_class(pool, k, seed=seed)
        rep, fit, _, clf = run(None, labels, descs, rows, dev, finetune=True)
        accs.append(rep.accuracy)
        print(d, m, seed, f"{rep.accuracy:.3f}", f"ece {rep.ece:.3f}", f"fit {fit:.0f}s", flush=True)
    print("==", d, m, os.environ.get("NCLS"), os.environ.get("PAIRS"), f"{np.mean(accs):.4f}", flush=True)
