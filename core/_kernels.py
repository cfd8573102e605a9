"""Compiled loops (numba, ``nogil``).

They do the parts numpy can only do with many passes of random gathers and scatters.

Loaded lazily through :func:`core.engine.kernels`, which returns None when numba is missing:
every caller then runs its pure-numpy path, which gives identical results. The kernels serve

* the rank diff (:mod:`core._rank_compiled`): ``joint_keys``, ``dense_levels``, ``scan``,
  ``merge``, and ``monotone`` for :func:`core.ranks.rank_preserving`;
* the methods (:mod:`core.methods`): ``norm_divide``, ``min_max``, ``mean_std``,
  ``zscore_stats``, ``pairwise_sum``, ``pairwise_stats``, ``zscore_divide``,
  ``percentile_clip``, ``equalize``;
* the display (:mod:`core.display`): ``quantize``, the bytes a picture is drawn from;
* the histograms (:mod:`core.histogram`): ``finite_range``, ``bin_counts``,
  ``joint_counts``.

Every kernel works on rows (one group of pixels per row, or (outer, m, inner) blocks with a
group's m values on the middle axis) and writes into arrays the caller made, over the part
of the rows it is given, so that :func:`core.engine.in_parts` can run parts on threads. The
rank diff's sort stays in numpy (its SIMD sort of uint64 keys beats any loop here): a
pixel's key is ``after_key << 32 | pixel index``, so one sort of each row orders the pixels
by after.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit

# released GIL, cached machine code, and numpy's float semantics (x / 0 is inf or nan, not
# an exception; it also spares a check per division)
_jit = functools.partial(njit, nogil=True, cache=True, error_model="numpy")

_LOW = np.uint64(0xFFFFFFFF)
_INVALID = np.uint64(0xFFFFFFFF) << np.uint64(32)


@_jit
def joint_keys(after_key, float_bits, valid, check_valid, keys):
    """``keys[r, i] = after_key[r, i] << 32 | i``; invalid pixels get the top key.

    With `float_bits`, `after_key` holds raw float32 bits, made order-preserving here
    (negative: all bits flipped; positive: the sign bit set; -0.0 taken as +0.0).
    """
    g, n = after_key.shape
    sign = np.uint32(1 << 31)
    for r in range(g):
        for i in range(n):
            if check_valid and not valid[r, i]:
                keys[r, i] = _INVALID | np.uint64(i)
                continue
            key = after_key[r, i]
            if float_bits:
                if key == sign:
                    key = np.uint32(0)
                key = ~key if key & sign else key | sign
            keys[r, i] = (np.uint64(key) << np.uint64(32)) | np.uint64(i)


@_jit
def dense_levels(order, equal, levels):
    """``levels[r, order[r, t]]``: the dense level of each pixel.

    From a sort of each row (`order`) and the sorted values (`equal`; equal values, equal level).
    """
    g, n = order.shape
    for r in range(g):
        lev = -1
        for t in range(n):
            if t == 0 or equal[r, t] != equal[r, t - 1]:
                lev += 1
            levels[r, order[r, t]] = lev


@_jit
def scan(keys, levels, k, valid, check_valid, exact, use_exact, maps, packed, counts, sums, part):
    """Walk rows in after-order: tie runs, inversions, ranks and partners.

    `keys` come sorted per row (valid pixels first). ``levels[r, i]`` is pixel i's before
    value as an integer level below `k` (equal values, equal level). Where ``keys >> 32``
    only approximates after (a float32 key of float64 data), ``exact`` holds the true
    values: a run of equal keys whose values differ is re-sorted by value.

    ``part = (r0, r1, t0, t1)``: rows r0 to r1, and in each the sorted positions t0 to t1
    (t1 < 0: to the end). Parts that split a row must start and end where ``keys >> 32``
    changes; their counts add up, so two threads can share one big row.

    A run of pixels tied in after is handled at once: its inversions are counted against the
    pixels before it (queried before the run enters the Fenwick tree of levels), and its
    later-and-smaller partners after it entered. Random reads and writes get tight loops of
    their own, apart from the counting, so that the memory system can overlap them.

    ``counts[r]`` receives the valid pixels, discordant pairs, before ties, after ties and
    pairs tied in both; ``sums[r]`` Σ(rx−μ)(ry−μ), Σ(rx−μ)², Σ(ry−μ)² over average ranks
    (μ the mean rank). Whole-row numbers (valid pixels, before ties, Σ(rx−μ)²) come only
    from the part with t0 = 0, so the parts' arrays simply add up. With `maps`,
    ``packed[r, i]`` receives pixel i's word: the float32 bits of its (rank after − rank
    before) / valid pixels above its count of discordant partners (so ``packed.view(uint32)``
    holds both maps interleaved). `keys` stay sorted by after, exactly, for look-ups.
    """
    n = keys.shape[1]
    r0, r1, t0, t1 = part
    shift32 = np.empty(1, np.float32)  # to read a float32's bits
    shift_bits = shift32.view(np.uint32)
    tree = np.zeros(k + 1, np.int64)  # Fenwick tree: how many pixels so far at each level
    count = np.zeros(k + 1, np.int64)  # pixels per level, then pixels below each level
    inrun = np.zeros(k, np.int64)  # pixels of the current tie run at each level
    seen = np.zeros(k, np.int64)  # pixels so far at each level
    width = n if t1 < 0 else t1 - t0
    seq = np.empty(width, levels.dtype)  # before levels in after-order
    value = np.empty(0, np.float64)  # the exact after values of a run that needs them
    word = np.empty(width if maps else 1, np.uint64)  # shift and partners, same order
    for r in range(r0, r1):
        count[:] = 0
        for i in range(n):
            if not check_valid or valid[r, i]:
                count[levels[r, i] + 1] += 1
        ties_x = 0
        for lev in range(k):
            c = count[lev + 1]
            ties_x += c * (c - 1) // 2
            count[lev + 1] += count[lev]
        below = count
        mr = below[k]
        start = min(t0, mr)
        stop = mr if t1 < 0 else min(t1, mr)
        seen[:] = 0
        for t in range(start):
            seen[levels[r, keys[r, t] & _LOW]] += 1
        tree[:] = 0
        for lev in range(k):  # a Fenwick tree of `seen`, in O(k)
            tree[lev + 1] += seen[lev]
            parent = (lev + 1) + ((lev + 1) & -(lev + 1))
            if parent <= k:
                tree[parent] += tree[lev + 1]
        for t in range(start, stop):
            seq[t - start] = levels[r, keys[r, t] & _LOW]
        mu = (mr + 1) / 2.0
        disc = 0
        ties_y = 0
        kept = 0
        sxy = 0.0
        sxx = 0.0
        syy = 0.0
        if t0 == 0:
            for lev in range(k):
                rx = (below[lev] + below[lev + 1] + 1) / 2.0
                sxx += (below[lev + 1] - below[lev]) * (rx - mu) * (rx - mu)
        t = start
        while t < stop:
            high = keys[r, t] >> np.uint64(32)
            e = t + 1
            while e < stop and keys[r, e] >> np.uint64(32) == high:
                e += 1
            mixed = False
            if use_exact:  # read in place: a copy of every value would cost 8 bytes a pixel
                first = exact[r, keys[r, t] & _LOW]
                for u in range(t + 1, e):
                    if exact[r, keys[r, u] & _LOW] != first:
                        mixed = True
                        break
                if mixed:
                    value = np.empty(e - t, np.float64)
                    for u in range(t, e):
                        value[u - t] = exact[r, keys[r, u] & _LOW]
                    order = np.argsort(value, kind="mergesort")
                    keys[r, t:e] = keys[r, t:e][order]
                    seq[t - start : e - start] = seq[t - start : e - start][order]
                    value = value[order]
            s = t
            while s < e:
                f = s + 1
                if mixed:
                    while f < e and value[f - t] == value[s - t]:
                        f += 1
                else:
                    f = e
                ties_y += (f - s) * (f - s - 1) // 2
                ry = (s + 1 + f) / 2.0
                syy += (f - s) * (ry - mu) * (ry - mu)
                twice_rx = 0
                low = high_level = np.int64(seq[s - start])
                first_at_or_below = 0
                last = -1
                at_or_below = 0
                for u in range(s, f):  # against the pixels before the run
                    lev = np.int64(seq[u - start])
                    if lev != last:  # the tree is the same for the whole run
                        low = min(low, lev)
                        high_level = max(high_level, lev)
                        at_or_below = 0
                        j = lev + 1
                        while j > 0:
                            at_or_below += tree[j]
                            j -= j & -j
                        last = lev
                    if u == s:
                        first_at_or_below = at_or_below
                    disc += s - at_or_below
                    twice = below[lev] + below[lev + 1] + 1
                    twice_rx += twice
                    if maps:
                        shift32[0] = ((s + 1 + f) - twice) * 0.5 / mr
                        shifted = np.uint64(shift_bits[0]) << np.uint64(32)
                        word[u - start] = shifted | np.uint64(s - at_or_below)
                sxy += (ry - mu) * (twice_rx / 2.0 - (f - s) * mu)
                if maps and low == high_level:  # one level: later-smaller is one number
                    smaller = np.uint64(below[low] - (first_at_or_below - seen[low]))
                    for u in range(s, f):
                        word[u - start] += smaller
                u = s
                while u < f:  # the run enters the tree, a stretch of one level at a time
                    lev = np.int64(seq[u - start])
                    v = u + 1
                    while v < f and seq[v - start] == lev:
                        v += 1
                    kept += (v - u) * inrun[lev] + (v - u) * (v - u - 1) // 2
                    inrun[lev] += v - u
                    seen[lev] += v - u
                    j = lev + 1
                    while j <= k:
                        tree[j] += v - u
                        j += j & -j
                    u = v
                for u in range(s, f):  # against the pixels after the run
                    lev = np.int64(seq[u - start])
                    inrun[lev] = 0
                    if maps and low != high_level:
                        smaller_so_far = 0
                        j = lev
                        while j > 0:
                            smaller_so_far += tree[j]
                            j -= j & -j
                        word[u - start] += np.uint64(below[lev] - smaller_so_far)
                s = f
            t = e
        if maps:
            for t in range(start, stop):
                packed[r, keys[r, t] & _LOW] = word[t - start]
        counts[r, 0] = mr if t0 == 0 else 0
        counts[r, 1] = disc
        counts[r, 2] = ties_x if t0 == 0 else 0
        counts[r, 3] = ties_y
        counts[r, 4] = kept
        sums[r, 0] = sxy
        sums[r, 1] = sxx
        sums[r, 2] = syy


@_jit
def monotone(codes, k, after, out):
    """``out[r]``: whether ``after[r]`` is a non-decreasing function of the levels ``codes[r]``.

    The levels satisfy ``0 <= code < k``. One pass per row with early exit; levels are stamped with
    their row instead of cleared, and a row with few pixels sorts its levels instead of walking all
    k.
    """
    g, n = codes.shape
    table = np.empty(k, np.float64)
    stamp = np.full(k, -1, np.int64)
    touched = np.empty(n, np.int64)
    for r in range(g):
        ok = True
        m = 0
        for i in range(n):
            c = np.int64(codes[r, i])
            v = np.float64(after[r, i])
            if stamp[c] != r:
                stamp[c] = r
                table[c] = v
                touched[m] = c
                m += 1
            elif table[c] != v:
                ok = False
                break
        if ok:
            last = -np.inf
            if k <= 4 * n:
                for c in range(k):
                    if stamp[c] == r:
                        if table[c] < last:
                            ok = False
                            break
                        last = table[c]
            else:
                for c in np.sort(touched[:m]):
                    if table[c] < last:
                        ok = False
                        break
                    last = table[c]
        out[r] = ok


@_jit
def finite_range(values, others):
    """Smallest and largest finite value of `values`, and the number of pixels they range over.

    The pixels are those where `others` (same size, or size 1 for none) is finite too.
    """
    lo = np.inf
    hi = -np.inf
    count = 0
    paired = others.size == values.size
    for i in range(values.size):
        v = np.float64(values[i])
        if not np.isfinite(v) or (paired and not np.isfinite(np.float64(others[i]))):
            continue
        count += 1
        lo = min(lo, v)
        hi = max(hi, v)
    return lo, hi, count


@njit(inline="always")
def _bin(v, edges, scale):
    """``searchsorted(edges, v, "right") - 1``, the last bin closed; v within the edges."""
    nb = len(edges) - 1
    i = min(max(np.int64((v - edges[0]) * scale), 0), nb - 1)
    while i > 0 and v < edges[i]:
        i -= 1
    while i < nb - 1 and v >= edges[i + 1]:
        i += 1
    return i


@_jit
def bin_counts(values, edges, counts):
    """Add each finite value of `values` within the edges to ``counts[bin]``."""
    scale = (len(edges) - 1) / (edges[-1] - edges[0])
    for i in range(values.size):
        v = np.float64(values[i])
        if np.isfinite(v) and edges[0] <= v <= edges[-1]:
            counts[_bin(v, edges, scale)] += 1


@_jit
def joint_counts(before, after, x_edges, y_edges, counts):
    """Add each pixel finite in both arrays to ``counts[bin of before, bin of after]``."""
    sx = (len(x_edges) - 1) / (x_edges[-1] - x_edges[0])
    sy = (len(y_edges) - 1) / (y_edges[-1] - y_edges[0])
    for i in range(before.size):
        u = np.float64(before[i])
        v = np.float64(after[i])
        if np.isfinite(u) and np.isfinite(v):
            counts[_bin(u, x_edges, sx), _bin(v, y_edges, sy)] += 1


# --- normalization: every kernel sees (outer, m, inner) arrays, one group per (outer, inner),
# its m values along the middle axis; each writes the same float operations numpy would.


@_jit
def _norm_of(x, o, i, order):
    """The norm of group (o, i); 1 where it is 0."""
    s = 0.0
    for j in range(x.shape[1]):
        v = np.float64(x[o, j, i])
        if order == 2:
            s += v * v
        elif order == 1:
            s += abs(v)
        else:
            s = max(s, abs(v))
    s = np.sqrt(s) if order == 2 else s
    return 1.0 if s == 0 else s


@_jit
def norm_divide(x, order, out, part):
    """``x / norm`` over the middle axis, for integers, with the L1, L2 or max-abs norm.

    ``order`` 1, 2 or inf picks the norm. Sums of integers are exact in float64, so any summation
    order gives numpy's result; a zero norm divides by 1 (Keras' quirk, and the lp method's zero
    groups).
    """
    m = x.shape[1]
    i0, n = part[2], part[3] - part[2]
    if n < 16:  # few groups side by side (e.g. RGB): one group at a time, in registers
        for o in range(part[0], part[1]):
            for i in range(i0, i0 + n):
                s = _norm_of(x, o, i, order)
                for j in range(m):
                    out[o, j, i] = x[o, j, i] / s
        return
    acc = np.empty(n)  # rows sliced to the part: indices from 0 let the loops vectorize
    for o in range(part[0], part[1]):
        acc[:] = 0.0
        for j in range(m):
            row = x[o, j, i0 : i0 + n]
            for i in range(n):
                v = np.float64(row[i])
                if order == 2:
                    acc[i] += v * v
                elif order == 1:
                    acc[i] += abs(v)
                else:
                    acc[i] = max(acc[i], abs(v))
        for i in range(n):
            s = np.sqrt(acc[i]) if order == 2 else acc[i]
            acc[i] = 1.0 if s == 0 else s
        for j in range(m):
            row = x[o, j, i0 : i0 + n]
            dst = out[o, j, i0 : i0 + n]
            for i in range(n):
                dst[i] = row[i] / acc[i]


@_jit
def min_max(x, low, high, out, part):
    """``(x − min) / span · (high − low) + low`` per group (span 0 divides by 1), float64."""
    m = x.shape[1]
    i0, n = part[2], part[3] - part[2]
    if n < 16:  # few groups side by side (a whole image, RGB): one group at a time
        for o in range(part[0], part[1]):
            for i in range(i0, i0 + n):
                least = most = np.float64(x[o, 0, i])
                for j in range(m):
                    least = min(least, np.float64(x[o, j, i]))
                    most = max(most, np.float64(x[o, j, i]))
                span = 1.0 if most == least else most - least
                for j in range(m):
                    out[o, j, i] = (np.float64(x[o, j, i]) - least) / span * (high - low) + low
        return
    lo = np.empty(n)  # rows sliced to the part, as in norm_divide
    den = np.empty(n)
    for o in range(part[0], part[1]):
        first = x[o, 0, i0 : i0 + n]
        for i in range(n):
            lo[i] = np.float64(first[i])
            den[i] = np.float64(first[i])
        for j in range(m):
            row = x[o, j, i0 : i0 + n]
            for i in range(n):
                v = np.float64(row[i])
                lo[i] = min(lo[i], v)
                den[i] = max(den[i], v)
        for i in range(n):
            span = den[i] - lo[i]
            den[i] = 1.0 if span == 0 else span
        for j in range(m):
            row = x[o, j, i0 : i0 + n]
            dst = out[o, j, i0 : i0 + n]
            for i in range(n):
                dst[i] = (np.float64(row[i]) - lo[i]) / den[i] * (high - low) + low


@_jit
def mean_std(x, scale, mean, std, out, part):
    """The float32 ``(x.float() / scale - mean[c]) / std[c]`` of torchvision.

    The channel c is on the middle axis.
    """
    c = x.shape[1]
    i0, n = part[2], part[3] - part[2]
    for o in range(part[0], part[1]):
        for j in range(c):
            mj = mean[j]
            sj = std[j]
            row = x[o, j, i0 : i0 + n]
            dst = out[o, j, i0 : i0 + n]
            for i in range(n):
                t = np.float32(row[i]) / scale
                dst[i] = (t - mj) / sj


@_jit
def zscore_stats(x, mean, std, part):
    """Mean and std (ddof 0) of groups side by side (``inner`` > 1), in numpy's order.

    numpy adds such groups one value after another: the same order gives its bits, in one pass
    per statistic. Few groups side by side (one per channel) are summed one at a time in
    registers.
    """
    m = x.shape[1]
    i0, n = part[2], part[3] - part[2]
    for o in range(part[0], part[1]):
        if n < 16:
            for i in range(i0, i0 + n):
                s = -0.0
                for j in range(m):
                    s += np.float64(x[o, j, i])
                mu = s / m
                s = -0.0
                for j in range(m):
                    d = np.float64(x[o, j, i]) - mu  # numpy's v -= mean, then v * v
                    s += d * d
                mean[o, i] = mu
                std[o, i] = np.sqrt(s / m)
            continue
        mu = mean[o, i0 : i0 + n]  # rows sliced to the part, as in norm_divide
        sd = std[o, i0 : i0 + n]
        mu[:] = -0.0
        sd[:] = -0.0
        for j in range(m):
            row = x[o, j, i0 : i0 + n]
            for i in range(n):
                mu[i] += np.float64(row[i])
        for i in range(n):
            mu[i] /= m
        for j in range(m):
            row = x[o, j, i0 : i0 + n]
            for i in range(n):
                d = np.float64(row[i]) - mu[i]
                sd[i] += d * d
        for i in range(n):
            sd[i] = np.sqrt(sd[i] / m)


@njit(inline="always")
def _term(x, k, mean, square):
    v = np.float64(x[k])
    if square:
        v -= mean
        return v * v
    return v


@njit(inline="always")
def _block_sum(x, k0, n, mean, square):
    """The sum of a block of at most 128 values, as numpy adds it.

    Below 8 values one after another, else in 8 accumulators (numpy's unrolled loop), then the
    rest.
    """
    if n < 8:
        res = -0.0
        for k in range(k0, k0 + n):
            res += _term(x, k, mean, square)
        return res
    r0, r1 = _term(x, k0, mean, square), _term(x, k0 + 1, mean, square)
    r2, r3 = _term(x, k0 + 2, mean, square), _term(x, k0 + 3, mean, square)
    r4, r5 = _term(x, k0 + 4, mean, square), _term(x, k0 + 5, mean, square)
    r6, r7 = _term(x, k0 + 6, mean, square), _term(x, k0 + 7, mean, square)
    i = 8
    while i < n - n % 8:
        k = k0 + i
        r0 += _term(x, k, mean, square)
        r1 += _term(x, k + 1, mean, square)
        r2 += _term(x, k + 2, mean, square)
        r3 += _term(x, k + 3, mean, square)
        r4 += _term(x, k + 4, mean, square)
        r5 += _term(x, k + 5, mean, square)
        r6 += _term(x, k + 6, mean, square)
        r7 += _term(x, k + 7, mean, square)
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for k in range(k0 + i, k0 + n):
        res += _term(x, k, mean, square)
    return res


@_jit
def pairwise_sum(x, k0, n, mean, square):
    """The pairwise sum of ``x[k0:k0 + n]`` (``(x − mean)²`` when `square`), numpy's bits.

    numpy's ``pairwise_sum``: blocks of up to 128 values summed as :func:`_block_sum` does;
    above that, the two halves (the first a multiple of 8 long) summed apart, then added. The
    tree is walked with a stack (numba caches no recursive function).
    """
    if n <= 128:
        return _block_sum(x, k0, n, mean, square)
    starts = np.empty(128, np.int64)  # the nodes to visit: 2 a level, 64 levels at most
    sizes = np.empty(128, np.int64)
    split = np.zeros(128, np.bool_)
    sums = np.empty(64)  # the sums of the nodes done, in tree order
    top, done = 0, 0
    starts[0], sizes[0] = k0, n
    while top >= 0:
        k, c = starts[top], sizes[top]
        if c <= 128:
            sums[done] = _block_sum(x, k, c, mean, square)
            done += 1
            top -= 1
        elif split[top]:  # both halves done: first + second, as numpy adds them
            sums[done - 2] += sums[done - 1]
            done -= 1
            top -= 1
        else:
            split[top] = True
            half = c // 2
            half -= half % 8
            starts[top + 1], sizes[top + 1], split[top + 1] = k + half, c - half, False
            starts[top + 2], sizes[top + 2], split[top + 2] = k, half, False
            top += 2
    return sums[0]


@_jit
def pairwise_stats(x, mean, std, part):
    """Mean and std (ddof 0) of each contiguous group ``x[o]``, numpy's pairwise sums.

    Over rows ``part[0]:part[1]``.
    """
    m = x.shape[1]
    for o in range(part[0], part[1]):
        mu = pairwise_sum(x[o], 0, m, 0.0, False) / m
        mean[o] = mu
        std[o] = np.sqrt(pairwise_sum(x[o], 0, m, mu, True) / m)


@_jit
def zscore_divide(x, mean, std, out, part):
    """``(x − mean) / std`` per group (0 where the std is 0), over a block.

    The block is ``(o0, o1, i0, i1, j0, j1)``: z-score's elementwise pass, cut along the values
    too.
    """
    i0, n = part[2], part[3] - part[2]
    for o in range(part[0], part[1]):
        if n < 16:  # few groups side by side (a whole image, RGB): one at a time
            for i in range(i0, i0 + n):
                a, b = mean[o, i], std[o, i]
                if b == 0:
                    for j in range(part[4], part[5]):
                        out[o, j, i] = 0.0
                else:
                    for j in range(part[4], part[5]):
                        out[o, j, i] = (np.float64(x[o, j, i]) - a) / b
            continue
        a = mean[o, i0 : i0 + n]  # rows sliced to the part, as in norm_divide
        b = std[o, i0 : i0 + n]
        for j in range(part[4], part[5]):
            row = x[o, j, i0 : i0 + n]
            dst = out[o, j, i0 : i0 + n]
            for i in range(n):
                dst[i] = 0.0 if b[i] == 0 else (np.float64(row[i]) - a[i]) / b[i]


@_jit
def quantize(values, offset, scale, top, out, nan, part):
    """``out = clip((values − offset) · scale, 0, top)`` truncated to bytes.

    Computed in `values`' float type (pyqtgraph's arithmetic for float images);
    ``nan[part[2]]`` says whether a value in the part was NaN (its byte is then meaningless).
    """
    seen = False
    for k in range(part[0], part[1]):
        v = values[k]
        if np.isnan(v):
            seen = True
            out[k] = 0
            continue
        t = (v - offset) * scale
        out[k] = np.uint8(min(max(t, 0), top))
    nan[part[2]] = seen


@njit(inline="always")
def _kth(counts, k):
    """The k-th smallest (0-based) level of a histogram."""
    seen = 0
    for level in range(len(counts)):
        seen += counts[level]
        if seen > k:
            return level
    return len(counts) - 1


@njit(inline="always")
def _lerp(a, b, t):
    """A + (b − a)·t as numpy's ``_lerp`` computes it, from the upper end when t ≥ 0.5."""
    d = b - a
    return b - d * (1 - t) if t >= 0.5 else a + d * t


@_jit
def percentile_clip(x, k, below, above, gamma, out, part):
    """Clip each group of small integers (levels below `k`) to its two percentiles, then min-max.

    The result is in [0, 1] (float64), as ``np.percentile`` (linear) then clip, subtract, divide.

    ``below[p]``, ``above[p]``: the order statistics (0-based) numpy interpolates between
    for percentile p of a group of m values, and ``gamma[p]`` the weight. Groups of fewer
    values than levels are sorted instead of counted.
    """
    _, m, inner = x.shape
    small = 2 * m < k
    counts = np.zeros((1 if small else inner, k), np.int64)
    values = np.empty(m if small else 1, np.int64)
    lo = np.empty(inner)
    hi = np.empty(inner)
    den = np.empty(inner)
    q = np.empty(2)
    for o in range(part[0], part[1]):
        if not small:
            counts[:] = 0
            for j in range(m):
                for i in range(inner):
                    counts[i, x[o, j, i]] += 1
        for i in range(inner):
            if small:  # insertion sort: groups this small are a few values
                for j in range(m):
                    v = np.int64(x[o, j, i])
                    t = j
                    while t > 0 and values[t - 1] > v:
                        values[t] = values[t - 1]
                        t -= 1
                    values[t] = v
            for p in range(2):
                if small:
                    a = np.float64(values[below[p]])
                    b = np.float64(values[above[p]])
                else:
                    a = np.float64(_kth(counts[i], below[p]))
                    b = np.float64(_kth(counts[i], above[p]))
                q[p] = _lerp(a, b, gamma[p])
            lo[i] = q[0]
            hi[i] = q[1]
            den[i] = 1.0 if q[1] - q[0] == 0 else q[1] - q[0]
        for j in range(m):
            for i in range(inner):
                v = np.float64(x[o, j, i])
                out[o, j, i] = (min(max(v, lo[i]), hi[i]) - lo[i]) / den[i]


@_jit
def equalize(x, out, part):
    """scikit-image ``equalize_hist`` of each group of integers.

    The cumulative histogram over [min, max] divided by its total (float64), read at each value.
    """
    _, m, inner = x.shape
    for o in range(part[0], part[1]):
        for i in range(inner):
            lo = x[o, 0, i]
            hi = x[o, 0, i]
            for j in range(m):
                lo = min(lo, x[o, j, i])
                hi = max(hi, x[o, j, i])
            cdf = np.zeros(np.int64(hi) - np.int64(lo) + 1, np.int64)
            for j in range(m):
                cdf[np.int64(x[o, j, i]) - lo] += 1
            for level in range(1, len(cdf)):
                cdf[level] += cdf[level - 1]
            total = np.float64(cdf[-1])
            for j in range(m):
                out[o, j, i] = cdf[np.int64(x[o, j, i]) - lo] / total


@_jit
def merge(a, b, out):
    """The sorted `a` and `b` merged into `out`."""
    i = j = o = 0
    while i < len(a) and j < len(b):
        if b[j] < a[i]:
            out[o] = b[j]
            j += 1
        else:
            out[o] = a[i]
            i += 1
        o += 1
    out[o : o + len(a) - i] = a[i:]
    o += len(a) - i
    out[o : o + len(b) - j] = b[j:]


@_jit
def levels_8bit(x, counts, sums, squares):
    """Level counts of C-contiguous 8-bit images ``x`` added to ``counts``, and their sums.

    ``x`` is (n, pixels, channels), ``counts`` (channels, 256); each image's exact sum and sum of
    squares per channel go into ``sums`` and ``squares`` (n, channels), taken from its own level
    counts. Large images are counted into 4 copies per channel, in turn, so that equal neighbours do
    not wait on one counter (about 3x faster on photos).
    """
    n, m, nc = x.shape
    stride = (4 if m >= 4096 else 1) * nc
    own = np.zeros((stride, 256), np.int64)
    total = m * nc
    for i in range(n):
        flat = x[i].ravel()
        e = 0
        while e + stride <= total:
            for k in range(stride):  # element e + k is of channel k % nc
                own[k, flat[e + k]] += 1
            e += stride
        while e < total:
            own[e % nc, flat[e]] += 1
            e += 1
        for c in range(nc):
            sums[i, c] = 0
            squares[i, c] = 0
        for k in range(stride):
            c = k % nc
            for v in range(256):
                got = own[k, v]
                if got:
                    counts[c, v] += got
                    sums[i, c] += got * v
                    squares[i, c] += got * v * v
                    own[k, v] = 0


@_jit
def levels_16bit(x, counts, sums, squares):
    """:func:`levels_8bit` for 16-bit images (``counts`` has 65536 levels).

    The sums are accumulated pixel by pixel (exact in int64 below 2**31 pixels an image).
    """
    n, m, nc = x.shape
    for i in range(n):
        for c in range(nc):
            sums[i, c] = 0
            squares[i, c] = 0
        for j in range(m):
            for c in range(nc):
                v = np.int64(x[i, j, c])
                counts[c, v] += 1
                sums[i, c] += v
                squares[i, c] += v * v
