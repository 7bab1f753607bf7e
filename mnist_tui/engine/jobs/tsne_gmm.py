"""The unsupervised job: (upsample) → (PCA) → t-SNE → Gaussian mixture → clusters mapped to digits.

Labels are used for scoring only. Emits phase changes, t-SNE iteration progress with the KL
divergence, down-sampled embedding snapshots for a live scatter plot, and one progress event per
GMM restart.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from contextlib import redirect_stdout
from typing import Any, TypedDict

import numpy as np

from mnist_tui.engine.data.datasets import Dataset, pool_label, resolve_split, select_subset
from mnist_tui.engine.data.idx import MIN_SIDE
from mnist_tui.engine.data.preprocessing import deskew
from mnist_tui.engine.errors import DataError, JobFailed
from mnist_tui.engine.jobs.context import JobContext
from mnist_tui.engine.jobs.events import Progress, Snapshot, Throttle
from mnist_tui.engine.jobs.metrics import ClusteringScore, score_clustering
from mnist_tui.engine.jobs.specs import TsneGmmSpec
from mnist_tui.engine.placement import job_threads

EARLY_EXAGGERATION_ITERS = 250   # openTSNE's default; at most half the run (early_exaggeration_iters)
# An embedding whose largest per-axis standard deviation ends below this has contracted instead
# of unfolding: openTSNE rescales its PCA initialisation to std 1e-4, and a Gaussian mixture
# cannot tell points apart below its covariance floor (reg_covar 1e-6: std 1e-3). Measured on
# 300 digits: real embeddings end at 0.1–6 (0.003 at the harshest exaggeration that still
# clusters, 8); collapsed ones at 1e-5 to 1e-40.
MIN_SPREAD = 1e-4
# A clustering in which one cluster holds more than this share of the images means nothing.
# Measured: real clusterings of the digits never exceed 0.25 with 10 clusters, and 0.86 with 2
# even when 95 % of the images are one digit (the mixture splits a big spread-out blob); a
# collapsed embedding puts 100 % in one cluster.
MAX_CLUSTER_SHARE = 0.95
SNAPSHOT_POINTS = 1500
SNAPSHOT_EVERY = 25
MIN_DESKEW_SIZE = 16
KNN_NEIGHBOURS_NOTE = ("the 30 nearest neighbours in the embedding in the same cluster (+ GMM "
                       "posterior / 100), then the previous round's soft-max")   # below this, a sub-pixel shear blurs a digit more than it straightens it


def upsample_rgb(pixels: np.ndarray, size: int, batch: int = 256) -> np.ndarray:
    """The notebook's preprocessing: bilinear resize of 0–1 images to size×size, grey copied to
    3 channels.

    Returns (N, size*size*3) float32, filled batch by batch to avoid float64 temporaries.
    """
    from scipy.ndimage import zoom

    n, h, w = pixels.shape
    out = np.empty((n, size, size, 3), dtype=np.float32)
    for s in range(0, n, batch):
        part = zoom(pixels[s:s + batch], (1, size / h, size / w), order=1)
        out[s:s + batch] = part[..., None]
    return out.reshape(n, -1)


def check_input(images: np.ndarray, where: str) -> None:
    """Refuse images t-SNE cannot embed, before it starts: openTSNE crashed the worker
    (SIGSEGV) on blank images, and 1×1 images failed inside its PCA initialisation."""
    n, h, w = images.shape
    if h < MIN_SIDE or w < MIN_SIDE:
        raise DataError(f"{where}: {h}×{w} images are too small to cluster: at least "
                        f"{MIN_SIDE}×{MIN_SIDE} pixels are needed")
    lo, hi = int(images.min()), int(images.max())
    if lo == hi:
        raise DataError(f"{where}: the {n:,} images chosen are blank (every pixel is {lo}): "
                        "t-SNE cannot embed images with nothing in them")


class DegenerateResult(JobFailed):
    """The job ran to its end, but what it produced means nothing (a collapsed embedding, one
    cluster holding almost every image): the run is recorded as failed (exit 3) with the
    reason, never as a finished run with a meaningless number."""


def early_exaggeration_iters(total: int) -> int:
    """openTSNE's 250 iterations of early exaggeration, but at most half of `total`.

    Why: when the perplexity is large for the number of images (30 for 300, say), the affinity
    graph is one well-connected blob and early exaggeration contracts the whole embedding, about
    tenfold every 25 iterations (openTSNE's PCA start, std 1e-4, is ~1e-14 after 250). The
    normal phase then unfolds it again, but needs some 50 iterations for that: 260 iterations
    in all (10 after the 250) left every image in one cluster. Half the run for each phase
    unfolds every case we measured (20–1,000 images, perplexity 2–300); from 500 iterations on
    nothing changes."""
    return min(EARLY_EXAGGERATION_ITERS, total // 2)


def check_embedding(embedding: np.ndarray) -> None:
    """Fail the run when t-SNE's embedding is not finite or has collapsed to a point: the
    clustering and every number scored from it would be meaningless."""
    if not np.isfinite(embedding).all():
        raise DegenerateResult("t-SNE embedding is not finite (NaN or infinite coordinates): "
                               "no clustering can be scored from it")
    spread = float(np.std(embedding, axis=0).max()) if len(embedding) else 0.0
    if spread < MIN_SPREAD:
        raise DegenerateResult(
            f"t-SNE embedding collapsed: spread {spread:.1e} (the largest per-axis standard "
            f"deviation; below {MIN_SPREAD:g} every image sits on one point), so a clustering "
            "of it would mean nothing; lower --exaggeration or --perplexity, or use more images")


def check_clusters(clusters: np.ndarray, requested: int) -> None:
    """Fail the run when one cluster holds almost every image: with the rest nearly empty the
    'clustering' is one group, and its accuracy and NMI mean nothing."""
    n = len(clusters)
    sizes = np.bincount(np.asarray(clusters, dtype=np.int64), minlength=requested)
    share = float(sizes.max() / n) if n else 1.0
    if share > MAX_CLUSTER_SHARE:
        raise DegenerateResult(
            f"degenerate clustering: one cluster holds {share:.1%} of the {n:,} images "
            f"({int(sizes.max()):,}; {requested} clusters requested, {n - int(sizes.max()):,} "
            "images in the others): the images are (nearly) all alike or the embedding has no "
            "structure, so the scores would mean nothing")


def _derive_seeds(seed: int, n: int) -> list[int]:
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


def check_sample(spec: TsneGmmSpec, dataset: Dataset) -> None:
    """What the data makes impossible, found before the run folder exists (the worker's
    `jobs.precheck`): the same checks `run` makes while sampling."""
    which = resolve_split(dataset, spec.split, supervised=False)
    pool = dataset.pool(which)
    idx = select_subset(len(pool), spec.samples, spec.subset_seed)
    if spec.perplexity * 3 >= len(idx):
        raise DataError(f"perplexity {spec.perplexity:g} is too large for {len(idx)} images")
    check_input(pool.images[idx], f"{dataset.name} ({pool_label(dataset, which)})")


def run(spec: TsneGmmSpec, dataset: Dataset, ctx: JobContext) -> dict[str, Any]:
    pca_seed, tsne_seed, gmm_seed, snap_seed = _derive_seeds(spec.seed, 4)
    refine_seed = _derive_seeds(spec.seed, 5)[4]   # a fifth draw: the first four stay as they were

    with ctx.phase("sampling", "choosing the images"):
        which = resolve_split(dataset, spec.split, supervised=False)
        pool = dataset.pool(which)
        idx = select_subset(len(pool), spec.samples, spec.subset_seed)
        images, labels = pool.images[idx], pool.labels[idx]
        n = len(labels)
        if spec.perplexity * 3 >= n:
            raise DataError(f"perplexity {spec.perplexity:g} is too large for {n} images")
        name = pool_label(dataset, which)
        drawn = (f"every image of the {dataset.name} {name} split" if n == len(pool) else
                 f"{n:,} of the {len(pool):,} {dataset.name} {name} images (subset seed "
                 f"{spec.subset_seed})")
        ctx.partial["n_samples"] = n
        ctx.partial["images"] = {
            "split": which,
            "clustered": f"{n:,} images: {drawn}",
            "evaluation": f"the same {n:,} images: clustering uses no labels; they only score "
                          "the clusters",
        }
        ctx.log(f"{n:,} images of {dataset.name} ({name}), {images.shape[1]}×{images.shape[2]}")
        check_input(images, f"{dataset.name} ({name})")

    deskewing = spec.deskew and min(images.shape[1:]) >= MIN_DESKEW_SIZE
    if spec.deskew and not deskewing:
        ctx.log(f"deskewing skipped: {images.shape[1]}×{images.shape[2]} images are too small "
                "to shear without destroying them (measured on the bundled 8×8 digits: 0.68 "
                "one-to-one with it, 0.95 without)", "warning")
    steps = ["scaling pixels"] + (["deskewing"] if deskewing else []) + (
        [f"upsampling to {spec.upsample}×{spec.upsample}×3"] if spec.upsample else [])
    with ctx.phase("preprocess", ", ".join(steps)):
        pixels = deskew(images) if deskewing else images.astype(np.float32) / 255.0
        X = upsample_rgb(pixels, spec.upsample) if spec.upsample else pixels.reshape(n, -1)
        features_in = X.shape[1]
        if not np.ptp(X, axis=0).any():
            raise DataError(f"{dataset.name} ({name}): the {n:,} images chosen are all the same "
                            "picture after preprocessing: t-SNE cannot embed identical points")

    pca_info = None
    if spec.pca:
        with ctx.phase("pca", f"PCA to {spec.pca} components"):
            from sklearn.decomposition import PCA

            k = min(spec.pca, n, X.shape[1])
            pca = PCA(n_components=k, random_state=pca_seed)
            X = pca.fit_transform(X).astype(np.float32)
            pca_info = {"components": k,
                        "explained_variance": float(pca.explained_variance_ratio_.sum())}

    snap_idx = np.sort(np.random.default_rng(snap_seed).choice(n, min(n, SNAPSHOT_POINTS),
                                                               replace=False))
    snap_labels = labels[snap_idx].tolist()

    def snapshot(iteration: int, embedding: np.ndarray) -> None:
        pts = np.round(np.asarray(embedding)[snap_idx], 2).tolist()
        ctx.emit(Snapshot(iteration=iteration, points=pts, labels=snap_labels))

    with ctx.phase("tsne", f"{spec.components}-D t-SNE ({spec.tsne_backend}), "
                           f"perplexity {spec.perplexity:g}, {spec.iterations} iterations"):
        affinities = None      # t-SNE's neighbourhoods (openTSNE's P), for self-training
        if spec.tsne_backend == "opentsne":
            embedding, kl, affinities = _tsne_opentsne(X, spec, tsne_seed, ctx, snapshot)
        else:
            embedding, kl = _tsne_sklearn(X, spec, tsne_seed, ctx)
        snapshot(spec.iterations, embedding)
        check_embedding(embedding)

    with ctx.phase("gmm", f"Gaussian mixture: {spec.gmm_components} components, "
                          f"{spec.covariance} covariance, {spec.gmm_inits} restart(s)"):
        clusters, gmm_info, posterior = fit_gmm(embedding, spec, gmm_seed, ctx)
        check_clusters(clusters, spec.gmm_components)

    with ctx.phase("scoring", "mapping clusters to digits"):
        score = score_clustering(labels, clusters, spec.gmm_components)

    clustering_only = None
    refine_info = None
    if spec.refine_rounds:
        clustering_only, clusters, refine_info = refine_clusters(
            images, X, affinities, clusters, posterior, score, spec, refine_seed, ctx)
        with ctx.phase("rescoring", "mapping the refined clusters to digits"):
            score = score_clustering(labels, clusters, spec.gmm_components)

    with ctx.writing_artifact("embedding.npz") as path:
        if path is not None:
            np.savez_compressed(path, embedding=embedding.astype(np.float32),
                                clusters=clusters, labels=labels, indices=idx)

    out = {
        "metrics": score.metrics(),
        "confusion_matrix": score.confusion_hungarian.tolist(),
        "confusion_mapping": "hungarian",
        "confusion_matrix_majority": score.confusion_majority.tolist(),
        "cluster_counts": score.cluster_counts.tolist(),
        "mapping_majority": score.mapping_majority.tolist(),
        "mapping_hungarian": score.mapping_hungarian.tolist(),
        "n_samples": n,
        "details": {
            "features_in": features_in,
            "deskewed": deskewing,
            "pca": pca_info,
            "tsne": {"backend": spec.tsne_backend, "final_kl": kl},
            "gmm": gmm_info,
        },
    }
    if clustering_only is not None:
        # Both numbers in every result: the clustering alone, and after self-training.
        out["metrics_clustering"] = clustering_only
        out["details"]["refine"] = refine_info
    return out


def refine_clusters(images: np.ndarray, features: np.ndarray, affinities: Any,
                    clusters: np.ndarray, posterior: np.ndarray, score: ClusteringScore,
                    spec: TsneGmmSpec, seed: int, ctx: JobContext,
                    ) -> tuple[dict[str, Any], np.ndarray, dict[str, Any]]:
    """Self-training rounds (jobs/refine.py) after the clustering: (the clustering's own
    metrics, the refined clusters, what each round did). No labels are used."""
    from mnist_tui.engine.jobs.refine import RefineSettings, auto_epochs, confidence, self_train

    alone = {k: v for k, v in score.metrics().items() if not k.startswith("per_class")}
    ctx.log(f"clustering alone: {alone['accuracy_hungarian']:.4f} one-to-one, "
            f"{alone['accuracy_majority']:.4f} majority vote (before self-training)")
    settings = RefineSettings(rounds=spec.refine_rounds, epochs=spec.refine_epochs,
                              trust=spec.refine_trust, folds=spec.refine_folds,
                              backend=spec.backend)
    epochs = settings.epochs or auto_epochs(len(clusters))

    def said(record: dict[str, Any]) -> None:
        sizes = record["cluster_sizes"]
        ctx.log(f"round {record['round']}/{settings.rounds}: {record['agreement']:.2%} agree "
                f"with the previous labels; trained on {record['kept']:,} trusted images "
                f"({record['epochs']} epochs); cluster sizes {min(sizes):,}–{max(sizes):,}; "
                f"{record['seconds']:.0f}s")
        if record["rejected"]:
            ctx.log(f"round {record['round']} rejected: it would change more than half the "
                    "labels or empty a cluster (judged without labels); the labels before it "
                    "are kept", "warning")

    where = "t-SNE's affinities" if affinities is not None else "30 nearest neighbours (PCA space)"
    with ctx.phase("refine", f"self-training: {settings.rounds} round(s) of a small CNN on the "
                             f"images whose cluster leads their neighbourhood ({where}), "
                             f"{epochs} epoch(s); no labels"):
        conf = confidence(clusters, posterior, affinities, features)
        refined, rounds = self_train(images, clusters, conf, spec.gmm_components,
                                     settings, seed, ctx, on_round=said)
    info = {"settings": {"rounds": settings.rounds, "epochs": epochs, "trust": settings.trust,
                         "folds": settings.folds, "batch": settings.batch,
                         "learning_rate": settings.lr, "shift": settings.shift,
                         "label_smoothing": settings.smoothing, "backend": settings.backend},
            "confidence": f"share of {where} in the same cluster (+ GMM posterior / 100)",
            "rounds": rounds, "changed": int(np.sum(refined != clusters))}
    return alone, refined, info


class _TsneState(TypedDict):
    offset: int           # iterations of the earlier optimisation phases
    kl: float | None      # the last KL divergence reported


def _tsne_opentsne(X: np.ndarray, spec: TsneGmmSpec, seed: int, ctx: JobContext,
                   snapshot: Callable[[int, np.ndarray], None],
                   ) -> tuple[np.ndarray, float | None, Any]:
    """openTSNE, run phase by phase so every iteration count and KL value can be reported."""
    import openTSNE

    early_iters = early_exaggeration_iters(spec.iterations)
    main_iters = spec.iterations - early_iters
    tsne = openTSNE.TSNE(
        n_components=spec.components, perplexity=spec.perplexity, exaggeration=spec.exaggeration,
        n_jobs=job_threads(), random_state=seed,
        negative_gradient_method="fft" if spec.components <= 2 else "bh",
    )
    ctx.emit(Progress(phase="tsne", step=0, total=spec.iterations,
                      message="nearest neighbours and affinities"))
    embedding = tsne.prepare_initial(X)
    throttle = Throttle(8)
    state: _TsneState = {"offset": 0, "kl": None}

    def callback(iteration: int, error: float, emb: np.ndarray) -> bool:
        step = state["offset"] + iteration
        state["kl"] = float(error)
        if throttle.ready(force=step >= spec.iterations):
            ctx.emit(Progress(phase="tsne", step=step, total=spec.iterations,
                              message="early exaggeration" if state["offset"] == 0 else "",
                              metrics={"kl_divergence": float(error)}))
        if iteration % SNAPSHOT_EVERY == 0:    # the phase's own count: the early one may end
            snapshot(step, emb)                 # off the 25-step grid (130 of 260)
        return False

    embedding.optimize(n_iter=early_iters, exaggeration=tsne.early_exaggeration,
                       momentum=tsne.initial_momentum, inplace=True, propagate_exception=True,
                       callbacks=[callback], callbacks_every_iters=SNAPSHOT_EVERY)
    state["offset"] = early_iters
    embedding.optimize(n_iter=main_iters, exaggeration=spec.exaggeration,
                       momentum=tsne.final_momentum, inplace=True, propagate_exception=True,
                       callbacks=[callback], callbacks_every_iters=SNAPSHOT_EVERY)
    ctx.emit(Progress(phase="tsne", step=spec.iterations, total=spec.iterations,
                      metrics={"kl_divergence": state["kl"]} if state["kl"] is not None else {}))
    return np.asarray(embedding), state["kl"], embedding.affinities.P


class _SklearnTsneProgress(io.TextIOBase):
    """scikit-learn's TSNE has no callback: read its verbose "[t-SNE] Iteration N: error = E" lines."""

    PATTERN = re.compile(r"Iteration (\d+): error = ([-+\d.eE]+)")

    def __init__(self, ctx: JobContext, total: int) -> None:
        self.ctx, self.total, self._buf = ctx, total, ""
        self.kl: float | None = None

    def write(self, text: str) -> int:
        self._buf += text
        *lines, self._buf = self._buf.split("\n")
        for line in lines:
            m = self.PATTERN.search(line)
            if m:
                step, self.kl = int(m.group(1)), float(m.group(2))
                self.ctx.emit(Progress(phase="tsne", step=step, total=self.total,
                                       metrics={"kl_divergence": self.kl}))
        return len(text)


def _tsne_sklearn(X: np.ndarray, spec: TsneGmmSpec, seed: int,
                  ctx: JobContext) -> tuple[np.ndarray, float]:
    from sklearn.manifold import TSNE

    reader = _SklearnTsneProgress(ctx, spec.iterations)
    tsne = TSNE(n_components=spec.components, perplexity=spec.perplexity,
                max_iter=spec.iterations, random_state=seed, verbose=2)
    with redirect_stdout(reader):
        embedding = tsne.fit_transform(X)
    if spec.exaggeration not in (None, 1.0):
        ctx.log("the sklearn backend ignores --exaggeration", "warning")
    return embedding, float(tsne.kl_divergence_)


def fit_gmm(embedding: np.ndarray, spec: TsneGmmSpec, seed: int,
            ctx: JobContext) -> tuple[np.ndarray, dict[str, Any], np.ndarray]:
    """Fit `gmm_inits` mixtures from different starts and keep the one with the best lower bound.

    Restarts are run one by one (rather than sklearn's `n_init`) so each can be reported; the
    choice uses the likelihood only, never the labels.
    """
    from sklearn.mixture import GaussianMixture

    bounds: list[float] = []
    best: Any = None   # the GaussianMixture with the best bound (None until one beats -inf)
    best_bound, chosen = -np.inf, -1
    for i, s in enumerate(_derive_seeds(seed, spec.gmm_inits)):
        gm = GaussianMixture(n_components=spec.gmm_components, covariance_type=spec.covariance,
                             n_init=1, random_state=s)
        gm.fit(embedding)
        bounds.append(float(gm.lower_bound_))
        if gm.lower_bound_ > best_bound:      # a NaN bound never wins
            best, best_bound, chosen = gm, gm.lower_bound_, i
        ctx.emit(Progress(phase="gmm", step=i + 1, total=spec.gmm_inits,
                          metrics={"lower_bound": bounds[-1], "best_lower_bound": float(best_bound)}))
    if best is None:
        raise DataError(f"the Gaussian mixture found no finite likelihood in {len(bounds)} "
                        f"restart(s) (lower bounds {bounds}): the t-SNE embedding is degenerate; "
                        "try another seed or perplexity")
    clusters = best.predict(embedding)
    posterior = best.predict_proba(embedding).max(1)
    return clusters, {"lower_bounds": bounds, "chosen_init": chosen,
                      "converged": bool(best.converged_)}, posterior
