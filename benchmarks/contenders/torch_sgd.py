"""``torch``: only when ``import torch`` works (never a dependency).

``nn.Linear`` + cross-entropy + ``optim.SGD``, manual batching over ``torch.randperm`` (no
DataLoader), zero start. (The module is not called ``torch.py``: it would shadow PyTorch.)
"""

from ._common import NotAvailable, load_task, timed_epochs

NAME = "torch"


def import_torch():
    """``torch`` and ``torch.nn.functional``, or :class:`NotAvailable` saying how to get it."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as exc:
        raise NotAvailable(
            f"PyTorch is not installed ({exc}); it is optional: `pip install torch` to include it"
        ) from exc
    return torch, F


def work(args):
    torch, F = import_torch()
    import numpy as np

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    X, y, X_test, y_test, K = load_task(args.task, args.dtype, args.rows, args.download)
    n, d = X.shape
    tdtype = torch.float32 if args.dtype == "float32" else torch.float64
    Xt, Xt_test = torch.from_numpy(X), torch.from_numpy(X_test)
    if args.task == "binary":
        yt = torch.from_numpy(y).to(tdtype)
        loss_fn = lambda out, target: F.binary_cross_entropy_with_logits(  # noqa: E731
            out.squeeze(1), target
        )
    else:
        yt = torch.from_numpy(y).long()
        loss_fn = F.cross_entropy
    model = torch.nn.Linear(d, K, dtype=tdtype)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    # fastreg's l2 multiplies ||W||^2, so its gradient is 2 l2 W; the bias is not penalised
    opt = torch.optim.SGD(
        [
            {"params": [model.weight], "weight_decay": 2 * args.l2},
            {"params": [model.bias], "weight_decay": 0.0},
        ],
        lr=args.lr,
    )
    generator = torch.Generator().manual_seed(args.seed)
    B = args.batch_size

    def run_epoch(_):
        perm = torch.randperm(n, generator=generator)
        loss = None
        for start in range(0, n, B):
            idx = perm[start : start + B]
            loss = loss_fn(model(Xt[idx]), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return "diverged" if loss is not None and not torch.isfinite(loss) else None

    def evaluate():
        with torch.no_grad():
            out = model(Xt_test)
            pred = (out.squeeze(1) >= 0).long() if args.task == "binary" else out.argmax(1)
        return float(np.mean(pred.numpy() == y_test))

    result = timed_epochs(run_epoch, evaluate, args)
    result.update(
        notes=f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"nn.Linear + cross-entropy + optim.SGD, lr {args.lr:g}"
    )
    return result
