# Exploratory (session 13): --finetune with a class-proxy softmax beside (or instead of) the in-batch loss.
# Each class gets a vector, started at the mean of its texts' untuned embeddings and trained with the encoder;
# each step adds a softmax over ALL classes (cosine x scale) for the batch's anchors and positives.
#   python ft_proxy.py banking77 0 base,proxy:1,proxyonly
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import llmclf.finetune as ft
from llmclf.tuned_encoder import IN_BATCH_LOSS

d = sys.argv[1]; seeds = [int(s) for s in sys.argv[2].split(",")]; variants = sys.argv[3].split(",")
labels, descs, pool, dev = data(d); K = 10 if d == "banking77" else 8
ORIG = ft.finetune_minilm
CFG = {}

def finetune_proxy(texts, labels_, *, pairs=ft.PAIRS, seed=0, threads=None, on_progress=None):
    torch, transformers, source = ft._require_torch()
    lam, only, plr, scale = CFG["lam"], CFG["only"], CFG["plr"], CFG["scale"]
    work = ft.make_anchor_pairs(texts, labels_, pairs, seed)
    start = time.perf_counter()
    torch.manual_seed(seed)
    transformers.logging.set_verbosity_error()
    tok = transformers.AutoTokenizer.from_pretrained(str(source))
    model = transformers.AutoModel.from_pretrained(str(source))
    model.embeddings.word_embeddings.weight.requires_grad_(False)

    def encode(batch):
        t = tok(batch, padding=True, truncation=True, max_length=ft.MAX_TOKENS, return_tensors="pt")
        h = model(**t).last_hidden_state
        m = t["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1)

    names = sorted(set(labels_)); ids = {n: i for i, n in enumerate(names)}
    with torch.no_grad():
        model.eval()
        E = torch.cat([encode(list(texts[i:i + 64])) for i in range(0, len(texts), 64)])
        y_all = torch.tensor([ids[l] for l in labels_])
        P0 = torch.stack([E[y_all == i].mean(0) for i in range(len(names))])
    proxies = torch.nn.Parameter(torch.nn.functional.normalize(P0, dim=1).clone())
    opt = torch.optim.AdamW([{"params": [p for p in model.parameters() if p.requires_grad], "lr": ft.LEARNING_RATE},
                             {"params": [proxies], "lr": plr, "weight_decay": 0.0}])
    model.train()
    for at in range(0, len(work), ft.IN_BATCH):
        b = work[at:at + ft.IN_BATCH]
        u, v = encode([a for a, _, _ in b]), encode([p for _, p, _ in b])
        y = torch.tensor([ids[l] for _, _, l in b])
        P = torch.nn.functional.normalize(proxies, dim=1)
        ce = (torch.nn.functional.cross_entropy(u @ P.T * scale, y) + torch.nn.functional.cross_entropy(v @ P.T * scale, y)) / 2
        loss = ce if only else ft._in_batch_loss(torch, u, v, [l for _, _, l in b]) + lam * ce
        opt.zero_grad(); loss.backward(); opt.step()
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    return ft.FinetuneResult(ft.export(state), len(work), time.perf_counter() - start, len(texts), IN_BATCH_LOSS)

for seed in seeds:
    rows = k_per_class(pool, K, seed=seed)
    out = []
    for var in variants:
        parts = var.split(":")
        if parts[0] == "base":
            ft.finetune_minilm = ORIG
        else:
            CFG.update(only=parts[0] == "proxyonly", lam=float(parts[1]) if len(parts) > 1 else 1.0,
                       plr=float(parts[2]) if len(parts) > 2 else 1e-3, scale=float(parts[3]) if len(parts) > 3 else 20.0)
            ft.finetune_minilm = finetune_proxy
        rep, fit, _, _ = run(None, labels, descs, rows, dev, finetune=True)
        out.append(f"{var}: {rep.accuracy:.3f} ({fit:.0f}s)")
        print(d, seed, " | ".join(out), flush=True)
