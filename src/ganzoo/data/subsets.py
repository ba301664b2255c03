"""Semi-supervised label subsets: which few examples keep their labels."""

from __future__ import annotations

import torch

from ganzoo.errors import GanzooError

__all__ = ["labeled_subset"]


def labeled_subset(
    labels: torch.Tensor, n: int, seed: int = 0, num_classes: int | None = None
) -> torch.Tensor:
    """Pick a class-balanced set of ``n`` example indices to keep labeled.

    Every class gets ``n // k`` examples; the remaining ``n % k`` go one each to classes
    chosen at random, so with 25 labels over 10 classes every class gets 2 or 3. The
    choice depends only on ``(labels, n, seed)``: it uses its own generator and does not
    touch or read the global RNG.

    Args:
        labels: ``(N,)`` integer class labels (any device).
        n: Number of labeled examples to pick.
        seed: Seed for the choice.
        num_classes: Number of classes ``k``; by default the distinct values in ``labels``.

    Returns:
        Sorted ``int64`` indices into ``labels`` on the CPU, ``n`` of them, no repeats.

    Raises:
        GanzooError: If ``n`` is smaller than the number of classes, larger than
            ``len(labels)``, or a class has too few examples.

    """
    labels = torch.as_tensor(labels).detach().to("cpu").long().reshape(-1)
    total = len(labels)
    if total == 0:
        raise GanzooError("labeled_subset needs a labeled data set, got no labels")
    if num_classes is None:
        classes = torch.unique(labels)
    else:
        if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
            raise GanzooError(
                f"labels range {int(labels.min())}..{int(labels.max())} does not fit "
                f"num_classes={num_classes}; pass the right num_classes"
            )
        classes = torch.arange(num_classes)
    k = len(classes)
    if n > total:
        raise GanzooError(
            f"cannot pick {n} labeled examples from a data set of {total}; use n <= {total}"
        )
    if n < k:
        raise GanzooError(
            f"n={n} labeled examples cannot cover {k} classes; use n >= {k} (one per class)"
        )
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(seed))
    base, rem = divmod(n, k)
    counts = torch.full((k,), base, dtype=torch.int64)
    counts[torch.randperm(k, generator=gen)[:rem]] += 1
    picked = []
    for c, count in zip(classes.tolist(), counts.tolist(), strict=True):
        members = torch.nonzero(labels == c, as_tuple=False).reshape(-1)
        if len(members) < count:
            raise GanzooError(
                f"class {c} has only {len(members)} examples but a balanced subset of {n} "
                f"needs {count}; use a smaller n"
            )
        picked.append(members[torch.randperm(len(members), generator=gen)[:count]])
    return torch.sort(torch.cat(picked)).values
