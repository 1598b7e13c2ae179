/* Upsampling: heatmap rows and tags at the grouping resolution, computed where they are read,
 * bit for bit the reference's whole maps (2x bilinear, align_corners=False, two float32 passes). */
#include "internal.h"

/* Output o of a 2x upsampling of n samples reads lo, hi with weights wlo, whi: pixel centres
 * map to (o + 0.5) / 2 - 0.5, so 2k reads k-1, k (0.25, 0.75) and 2k+1 reads k, k+1 (0.75, 0.25);
 * beyond the edges the nearest sample with weights (1, 0). */
void axis_taps(int n, lp_tap *taps) {
    for (int o = 0; o < 2 * n; ++o) {
        int lo = o / 2 - 1 + o % 2;
        float wlo = (o % 2 == 0) ? 0.25f : 0.75f;
        float whi = 1.0f - wlo;
        int edge = lo < 0 || lo + 1 > n - 1;
        int hi = lo + 1 < 0 ? 0 : (lo + 1 > n - 1 ? n - 1 : lo + 1);
        lo = lo < 0 ? 0 : (lo > n - 1 ? n - 1 : lo);
        if (edge) {
            wlo = 1.0f;
            whi = 0.0f;
        }
        taps[o].lo = lo;
        taps[o].hi = hi;
        taps[o].wlo = wlo;
        taps[o].whi = whi;
    }
}

/* Horizontal pass of the 2x upsampling: one source row of w samples -> 2w outputs. Inside the
 * row the taps are fixed (0.25, 0.75 / 0.75, 0.25), written out so the compiler vectorises. */
static void upsample_row(const float *src, const lp_tap *tx, int w2, float *out) {
    const int w = w2 / 2;
    out[0] = src[tx[0].lo] * tx[0].wlo + src[tx[0].hi] * tx[0].whi;
    for (int k = 1; k < w; ++k) {
        out[2 * k] = src[k - 1] * 0.25f + src[k] * 0.75f;
        out[2 * k - 1] = src[k - 1] * 0.75f + src[k] * 0.25f;
    }
    out[w2 - 1] = src[tx[w2 - 1].lo] * tx[w2 - 1].wlo + src[tx[w2 - 1].hi] * tx[w2 - 1].whi;
}

/* Vertical pass: out = a * wa + b * wb, element by element (mirrored: out[x] reads x' = n-1-x). */
static void blend_rows(const float *a, const float *b, float wa, float wb, int n, int mirrored, float *out) {
    if (mirrored) {
        for (int x = 0; x < n; ++x) out[x] = a[n - 1 - x] * wa + b[n - 1 - x] * wb;
    } else {
        for (int x = 0; x < n; ++x) out[x] = a[x] * wa + b[x] * wb;
    }
}

/* ------------------------------------------------------------------------ heatmaps */
/* Row r of stage-1 channel c on side s after the horizontal pass. Rows are asked for in
 * order (each output row blends two), so a two-row cache per thread and side serves them
 * without keeping the whole pass in memory. */
static const float *stage1_hrow(lp_decoder *d, lp_work *w, int s, int c, int r) {
    const long key = (long)c * d->h1 + r;
    for (int i = 2 * s; i < 2 * s + 2; ++i)
        if (w->hkey[i] == key) {
            w->hlast[s] = i;
            return w->hrow[i];
        }
    const int slot = w->hlast[s] == 2 * s ? 2 * s + 1 : 2 * s; /* keep the row used last: its partner
                                                                * may be asked next */
    upsample_row(d->stage1[s] + ((size_t)c * d->h1 + r) * d->w1, d->tx1, d->w2, w->hrow[slot]);
    w->hkey[slot] = key;
    w->hlast[s] = slot;
    return w->hrow[slot];
}

/* Row y of side s's stride-2 heatmap of joint j: (upsampled stage 1 + stage 2) / 2 of the
 * source joint, columns mirrored on the flipped side (the reference's _stage_maps). */
void stride2_heat_row(lp_decoder *d, lp_work *w, int s, int j, int y, float *out) {
    const int c = source_joint(d, s, j), w2 = d->w2;
    const lp_tap t = d->ty1[y];
    const float *a = stage1_hrow(d, w, s, c, t.lo), *b = stage1_hrow(d, w, s, c, t.hi);
    const float *s2 = d->stage2[s] + ((size_t)c * d->h2 + y) * w2;
    if (s == 0) {
        for (int x = 0; x < w2; ++x) out[x] = (a[x] * t.wlo + b[x] * t.whi + s2[x]) / 2.0f;
    } else {
        for (int x = 0; x < w2; ++x) {
            const int m = w2 - 1 - x;
            out[x] = (a[m] * t.wlo + b[m] * t.whi + s2[m]) / 2.0f;
        }
    }
}

/* Projection: row y of side s's stride-2 heatmap of joint j after the horizontal pass. */
static const float *heat2_hrow(lp_decoder *d, int s, int j, int y) {
    const size_t id = ((size_t)s * d->J + j) * d->h2 + y;
    float *out = d->hrow2 + id * d->gw;
    if (!d->hrow2_ready[id]) {
        upsample_row(d->heat2 + id * d->w2, d->tx2, d->gw, out);
        d->hrow2_ready[id] = 1;
    }
    return out;
}

/* Row y of joint j's heatmap at the grouping resolution (heat_row: once); the flip test averages
 * the sides. */
const float *compute_heat_row(lp_decoder *d, lp_work *w, int j, int y) {
    const size_t id = (size_t)j * d->gh + y;
    float *out = d->heat + id * d->gw;
    float *other = w->row;
    for (int s = 0; s < d->sides; ++s) {
        float *row = s == 0 ? out : other;
        if (d->project) {
            const lp_tap t = d->ty2[y];
            blend_rows(heat2_hrow(d, s, j, t.lo), heat2_hrow(d, s, j, t.hi), t.wlo, t.whi, d->gw, 0, row);
        } else {
            stride2_heat_row(d, w, s, j, y, row);
        }
    }
    if (d->sides == 2)
        for (int x = 0; x < d->gw; ++x) out[x] = (out[x] + other[x]) / 2.0f;
    d->heat_ready[id] = 1;
    return out;
}

/* ------------------------------------------------------------------------ tags */
/* Stride-2 tag of joint j on side s at pixel (y, x), from the four stage-1 samples it reads. */
static float stride2_tag_at(const lp_decoder *d, int s, int j, int y, int x) {
    const int c = d->J + source_joint(d, s, j);
    const float *map = d->stage1[s] + (size_t)c * plane(d->h1, d->w1);
    const lp_tap cy = d->ty1[y], cx = d->tx1[s == 0 ? x : d->w2 - 1 - x];
    const float *a = map + (size_t)cy.lo * d->w1, *b = map + (size_t)cy.hi * d->w1;
    const float top = a[cx.lo] * cx.wlo + a[cx.hi] * cx.whi;
    const float bottom = b[cx.lo] * cx.wlo + b[cx.hi] * cx.whi;
    return top * cy.wlo + bottom * cy.whi;
}

/* Tag of joint j, side s, at grouping-resolution pixel (y, x), bit for bit the whole maps'. */
float tag_at(const lp_decoder *d, int s, int j, int y, int x) {
    if (!d->project) return stride2_tag_at(d, s, j, y, x);
    const lp_tap cy = d->ty2[y], cx = d->tx2[x];
    const float top = stride2_tag_at(d, s, j, cy.lo, cx.lo) * cx.wlo + stride2_tag_at(d, s, j, cy.lo, cx.hi) * cx.whi;
    const float bottom =
        stride2_tag_at(d, s, j, cy.hi, cx.lo) * cx.wlo + stride2_tag_at(d, s, j, cy.hi, cx.hi) * cx.whi;
    return top * cy.wlo + bottom * cy.whi;
}

/* Whole stride-2 tag maps of joint j (both sides, mirrored on the flipped one): what the
 * projected refine step's tags are upsampled from. */
void ensure_tag_maps(lp_decoder *d, lp_work *work, int j) {
    if (d->tags_ready[j]) return;
    const int J = d->J, w2 = d->w2;
    for (int s = 0; s < d->sides; ++s) {
        const int c = J + source_joint(d, s, j);
        float *out = d->tags + ((size_t)s * J + j) * plane(d->h2, w2);
        for (int y = 0; y < d->h2; ++y) {
            const lp_tap t = d->ty1[y];
            blend_rows(stage1_hrow(d, work, s, c, t.lo), stage1_hrow(d, work, s, c, t.hi), t.wlo, t.whi, w2, s == 1,
                       out + (size_t)y * w2);
        }
    }
    d->tags_ready[j] = 1;
}
