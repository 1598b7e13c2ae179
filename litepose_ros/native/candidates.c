/* Candidates: per joint, the heatmap rows that can hold a pixel above the threshold, then the
 * max-pool (NMS) peaks above it, best first, with their tags. */
#include "internal.h"

/* Extrema of one row of w values. Where a NaN is involved the bound may or may not see it. */
static void row_extrema(const float *row, int w, float *hi_out, float *lo_out) {
    float hi = row[0], lo = row[0];
    int x = 0;
#if defined(LP_V4)
    if (w >= 4) {
        lp_v4 vhi = v4_load(row), vlo = vhi, vhi2 = vhi, vlo2 = vhi; /* two chains: twice the throughput */
        for (x = 4; x + 8 <= w; x += 8) {
            const lp_v4 v = v4_load(row + x), v2 = v4_load(row + x + 4);
            vhi = v4_max(v, vhi);
            vlo = v4_min(v, vlo);
            vhi2 = v4_max(v2, vhi2);
            vlo2 = v4_min(v2, vlo2);
        }
        for (; x + 4 <= w; x += 4) {
            const lp_v4 v = v4_load(row + x);
            vhi = v4_max(v, vhi);
            vlo = v4_min(v, vlo);
        }
        vhi = v4_max(vhi2, vhi);
        vlo = v4_min(vlo2, vlo);
        float h4[4], l4[4];
        v4_store(h4, vhi);
        v4_store(l4, vlo);
        for (int k = 0; k < 4; ++k) {
            hi = h4[k] > hi ? h4[k] : hi;
            lo = l4[k] < lo ? l4[k] : lo;
        }
    }
#endif
    for (; x < w; ++x) {
        hi = row[x] > hi ? row[x] : hi;
        lo = row[x] < lo ? row[x] : lo;
    }
    *hi_out = hi;
    *lo_out = lo;
}

/* Row maxima (rmax) and largest magnitudes (rabs) of a [h, w] map. */
static void row_maxima(const float *map, int h, int w, float *rmax, float *rabs) {
    for (int y = 0; y < h; ++y) {
        float hi, lo;
        row_extrema(map + (size_t)y * w, w, &hi, &lo);
        rmax[y] = hi;
        rabs[y] = fabsf(hi) > fabsf(lo) ? fabsf(hi) : fabsf(lo);
    }
}

/* The largest float32 <= the detection threshold: float32 v > it exactly when v > the threshold. */
static float threshold_floor(const lp_decoder *d) {
    float thr = (float)d->cfg->detection_threshold;
    if ((double)thr > d->cfg->detection_threshold) thr = nextafterf(thr, -INFINITY);
    return thr;
}

/* Marks the heatmap rows that can hold a pixel above the threshold (`above`) and computes them:
 * an upsampled pixel is a convex combination of the two source rows it reads, so their maxima
 * bound it, up to a few float32 roundings of the largest magnitude involved (the margin). At
 * stride 2 the bound comes straight from the stage outputs, and a row above is computed at once,
 * while its stage-2 row is in the cache; projected, the stride-2 heatmaps are computed whole and
 * bound the rows upsampled from them. Rows left out hold no pixel above the threshold: none can
 * be a candidate or beat one in the NMS window. */
static void mark_rows_above(lp_decoder *d, lp_work *w, int j) {
    const int J = d->J, gh = d->gh, h1 = d->h1, n = d->h2;
    const double thr = d->cfg->detection_threshold;
    if (!d->project && d->whole_heat[j]) { /* the refine step will want every row: no bounds */
        const float floor = threshold_floor(d);
        for (int y = 0; y < gh; ++y) {
            const float *row = heat_row(d, w, j, y);
            int above = 0;
            for (int x = 0; x < d->gw; ++x) above |= !(row[x] <= floor); /* NaN counts as above */
            d->above[(size_t)j * gh + y] = (uint8_t)above;
        }
        return;
    }
    float *r1 = w->rmax; /* [sides][rows]: row maxima, then [sides][rows] magnitudes */
    float *a1 = r1 + 2 * (size_t)n;
    const int src_rows = d->project ? n : h1;
    for (int s = 0; s < d->sides; ++s) {
        if (d->project) {
            float *map = d->heat2 + ((size_t)s * J + j) * plane(d->h2, d->w2);
            for (int y = 0; y < d->h2; ++y) stride2_heat_row(d, w, s, j, y, map + (size_t)y * d->w2);
            row_maxima(map, n, d->w2, r1 + (size_t)s * n, a1 + (size_t)s * n);
        } else {
            const int c = source_joint(d, s, j);
            row_maxima(d->stage1[s] + (size_t)c * plane(h1, d->w1), h1, d->w1, r1 + (size_t)s * src_rows,
                       a1 + (size_t)s * src_rows);
        }
    }
    const lp_tap *ty = d->project ? d->ty2 : d->ty1;
    for (int y = 0; y < gh; ++y) {
        double bound = 0.0, scale = fabs(thr);
        for (int s = 0; s < d->sides; ++s) {
            const float *rm = r1 + (size_t)s * src_rows, *ra = a1 + (size_t)s * src_rows;
            double b = rm[ty[y].lo] > rm[ty[y].hi] ? rm[ty[y].lo] : rm[ty[y].hi];
            scale += ra[ty[y].lo] > ra[ty[y].hi] ? ra[ty[y].lo] : ra[ty[y].hi];
            if (!d->project) { /* (upsampled stage 1 + stage 2) / 2 */
                float hi2, lo2;
                row_extrema(d->stage2[s] + ((size_t)source_joint(d, s, j) * n + y) * d->w2, d->w2, &hi2, &lo2);
                b = (b + hi2) / 2.0;
                scale += fabsf(hi2) > fabsf(lo2) ? fabsf(hi2) : fabsf(lo2);
            }
            bound += b;
        }
        bound /= d->sides;
        /* NaN bounds (NaN outputs) count as above: such rows are computed and compared */
        const int above = !(bound <= thr - LP_HEAT_MARGIN * scale);
        d->above[(size_t)j * gh + y] = (uint8_t)above;
        if (above && !d->project) heat_row(d, w, j, y);
    }
}

/* ------------------------------------------------------------------------ candidates */
/* Whether heat[y, x] equals the maximum of its kernel x kernel window (-inf outside). Rows
 * not marked above cannot hold a larger value than a pixel above the threshold. */
static int window_max_is(lp_decoder *d, lp_work *w, int j, int y, int x, float v, int pad);

static int is_peak(lp_decoder *d, lp_work *w, int j, int y, int x, float v, int pad) {
    /* the 3x3 neighbourhood first: on the slopes of a peak a neighbour is larger */
    return (pad <= 1 || window_max_is(d, w, j, y, x, v, 1)) && window_max_is(d, w, j, y, x, v, pad);
}

static int window_max_is(lp_decoder *d, lp_work *w, int j, int y, int x, float v, int pad) {
    const int y0 = y - pad < 0 ? 0 : y - pad, y1 = y + pad >= d->gh ? d->gh - 1 : y + pad;
    const int x0 = x - pad < 0 ? 0 : x - pad, x1 = x + pad >= d->gw ? d->gw - 1 : x + pad;
    for (int yy = y0; yy <= y1; ++yy) {
        if (!d->above[(size_t)j * d->gh + yy]) continue;
        const float *row = heat_row(d, w, j, yy);
        for (int xx = x0; xx <= x1; ++xx)
            if (!(row[xx] <= v)) return 0; /* a larger value, or NaN as the max-pool's */
    }
    return 1;
}

/* Per joint: NMS peaks above the threshold, best first (ties: lower flat index first), at most
 * max_num_people, with their tags. */
static void find_candidates(lp_decoder *d, lp_work *w, int j) {
    const lp_config *cfg = d->cfg;
    const int K = cfg->max_num_people, pad = cfg->nms_kernel / 2;
    const float thr = threshold_floor(d);
#if defined(LP_V4)
    const lp_v4 threshold = v4_set1(thr);
#endif
    {
        lp_candidate *best = d->cands + (size_t)j * K;
        int n = 0;
        for (int y = 0; y < d->gh; ++y) {
            if (!d->above[(size_t)j * d->gh + y]) continue;
            const float *row = heat_row(d, w, j, y);
            for (int x = 0; x < d->gw; ++x) {
                if ((x & 7) == 0 && x + 8 <= d->gw) { /* skip 8 pixels at a time below the threshold */
#if defined(LP_V4)
                    const int any = v4_any_greater(v4_load(row + x), v4_load(row + x + 4), threshold);
#else
                    int any = 0;
                    for (int k = 0; k < 8; ++k) any |= row[x + k] > thr;
#endif
                    if (!any) {
                        x += 7;
                        continue;
                    }
                }
                const float v = row[x];
                if (!(v > thr)) continue;
                /* the row neighbours first (part of the window test below): on a peak's slopes one
                 * of them is larger */
                if ((x > 0 && !(row[x - 1] <= v)) || (x + 1 < d->gw && !(row[x + 1] <= v))) continue;
                if (n == K && !(v > best[K - 1].value)) continue; /* equal: the earlier pixel stays */
                if (!is_peak(d, w, j, y, x, v, pad)) continue;
                int at = n < K ? n : K - 1; /* after every value >= v */
                while (at > 0 && best[at - 1].value < v) {
                    best[at] = best[at - 1];
                    --at;
                }
                best[at].x = x;
                best[at].y = y;
                best[at].value = v;
                if (n < K) ++n;
            }
        }
        for (int i = 0; i < n; ++i)
            for (int s = 0; s < d->sides; ++s) best[i].tag[s] = tag_at(d, s, j, best[i].y, best[i].x);
        d->cand_count[j] = n;
    }
}

/* The first steps for one joint, while its heatmap rows are in the cache: rows above the
 * threshold, candidates and, where every row was computed for the refine step (whole_heat),
 * the refine tiles' heat maxima. */
void rows_and_candidates(lp_decoder *d, lp_work *w, int j) {
    mark_rows_above(d, w, j);
    find_candidates(d, w, j);
    if (!d->project && d->whole_heat[j]) {
        float *hi = w->tilework;
        lp_tile *tiles = d->tiles + (size_t)j * d->tile_count;
        tile_maxima(d, d->heat + (size_t)j * plane(d->gh, d->gw), hi);
        for (int i = 0; i < d->tile_count; ++i) tiles[i].heat_max = hi[i];
        d->heat_max_ready[j] = 1;
    }
}
