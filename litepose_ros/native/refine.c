/* Adjust and refine: the quarter-pixel offset, and each person's missing joints filled where
 * the heatmap is high and the tag is the person's, scanning only the tiles whose bound can beat
 * the best value found so far. */
#include "internal.h"

/* round-half-to-even of x >= 0 in float32, as np.round; beyond 2^23 floats are integers. */
static float round_even(float x) {
    const float big = 8388608.0f; /* 2^23: adding it leaves no fraction bits, rounding to even */
    if (!(x < big)) return x;
    return (x + big) - big;
}

/* Pixel centre plus a quarter pixel toward the larger neighbour (ties go down/left). */
void quarter_offset(lp_decoder *d, lp_work *work, int j, int x, int y, float *ox, float *oy) {
    const int h = d->gh, w = d->gw;
    const float *row = heat_row(d, work, j, y);
    const float right = row[x + 1 < w ? x + 1 : w - 1], left = row[x - 1 > 0 ? x - 1 : 0];
    const float down = heat_at(d, work, j, y + 1 < h ? y + 1 : h - 1, x);
    const float up = heat_at(d, work, j, y - 1 > 0 ? y - 1 : 0, x);
    *ox = (float)(x + 0.5 + (right > left ? 0.25 : -0.25));
    *oy = (float)(y + 0.5 + (down > up ? 0.25 : -0.25));
}

/* Column-wise extrema of rows [r0, r1] of a [h, w] map. */
static void column_extrema(const float *map, int w, int r0, int r1, float *cmax, float *cmin) {
    for (int x = 0; x < w; ++x) cmax[x] = cmin[x] = map[(size_t)r0 * w + x];
    for (int y = r0 + 1; y <= r1; ++y) {
        const float *row = map + (size_t)y * w;
        int x = 0;
#if defined(LP_V4)
        for (; x + 4 <= w; x += 4) {
            const lp_v4 v = v4_load(row + x);
            v4_store(cmax + x, v4_max(v, v4_load(cmax + x)));
            v4_store(cmin + x, v4_min(v, v4_load(cmin + x)));
        }
#endif
        for (; x < w; ++x) {
            cmax[x] = row[x] > cmax[x] ? row[x] : cmax[x];
            cmin[x] = row[x] < cmin[x] ? row[x] : cmin[x];
        }
    }
}

/* A map that grouping-resolution pixels are upsampled from: pixel (y, x) reads source rows
 * rows[y].lo..hi and columns likewise, after mirroring x for the flip test's stage-1 tags
 * (stored unmirrored). */
typedef struct {
    const float *map;
    int width;
    const lp_tap *rows, *cols;
    int mirror;
} lp_source;

/* What side s's tags of joint j at the grouping resolution are upsampled from: the stage-1
 * outputs at stride 2 (mirrored on the flipped side), the whole stride-2 tags when projecting. */
static lp_source tag_source(const lp_decoder *d, int s, int j) {
    lp_source src = {NULL, d->w2, d->ty2, d->tx2, 0};
    if (d->project) {
        src.map = d->tags + ((size_t)s * d->J + j) * plane(d->h2, d->w2);
    } else {
        src = (lp_source){d->stage1[s] + (size_t)(d->J + source_joint(d, s, j)) * plane(d->h1, d->w1), d->w1,
                          d->ty1, d->tx1, s == 1};
    }
    return src;
}

/* What side s's projected heatmap of joint j is upsampled from: its stride-2 heatmap. */
static lp_source heat2_source(const lp_decoder *d, int s, int j) {
    const lp_source heat2 = {d->heat2 + ((size_t)s * d->J + j) * plane(d->h2, d->w2), d->w2, d->ty2, d->tx2, 0};
    return heat2;
}

/* Per tile: the extrema of the source pixels its pixels read (tile_hi / tile_lo [tile_count]). */
static void tile_extrema(lp_decoder *d, lp_work *w, const lp_source *src, float *tile_hi, float *tile_lo) {
    const int b = d->tile_size;
    float *cmax = w->colstats, *cmin = cmax + src->width;
    for (int ty = 0; ty * b < d->gh; ++ty) {
        const int y0 = ty * b, y1 = (y0 + b < d->gh ? y0 + b : d->gh) - 1;
        const int r0 = src->rows[y0].lo, r1 = src->rows[y1].hi;
        column_extrema(src->map, src->width, r0, r1, cmax, cmin);
        for (int tx = 0; tx * b < d->gw; ++tx) {
            int x0 = tx * b, x1 = (x0 + b < d->gw ? x0 + b : d->gw) - 1;
            if (src->mirror) {
                const int m0 = d->gw - 1 - x1;
                x1 = d->gw - 1 - x0;
                x0 = m0;
            }
            const int c0 = src->cols[x0].lo, c1 = src->cols[x1].hi;
            float hi = cmax[c0], lo = cmin[c0];
            for (int c = c0 + 1; c <= c1; ++c) {
                hi = cmax[c] > hi ? cmax[c] : hi;
                lo = cmin[c] < lo ? cmin[c] : lo;
            }
            tile_hi[ty * d->tiles_per_row + tx] = hi;
            tile_lo[ty * d->tiles_per_row + tx] = lo;
        }
    }
}

/* Per tile: the maximum of a [gh, gw] map at the grouping resolution (where a NaN is involved
 * it may or may not see it). A full tile's 8 columns stay in two vector registers. */
void tile_maxima(const lp_decoder *d, const float *map, float *tile_max) {
    const int b = d->tile_size, w = d->gw;
    for (int ty = 0; ty * b < d->gh; ++ty) {
        const int y0 = ty * b, y1 = y0 + b < d->gh ? y0 + b : d->gh;
        for (int tx = 0; tx * b < w; ++tx) {
            const int x0 = tx * b, x1 = x0 + b < w ? x0 + b : w;
            float hi = map[(size_t)y0 * w + x0];
            int y = y0;
#if defined(LP_V4)
            if (x1 - x0 == LP_TILE) {
                const float *top = map + (size_t)y0 * w + x0;
                lp_v4 hi_a = v4_load(top), hi_b = v4_load(top + 4);
                for (y = y0 + 1; y < y1; ++y) {
                    const float *row = map + (size_t)y * w + x0;
                    hi_a = v4_max(v4_load(row), hi_a);
                    hi_b = v4_max(v4_load(row + 4), hi_b);
                }
                float his[4];
                v4_store(his, v4_max(hi_b, hi_a));
                for (int k = 0; k < 4; ++k) hi = his[k] > hi ? his[k] : hi;
            }
#endif
            for (; y < y1; ++y) {
                const float *row = map + (size_t)y * w;
                for (int x = x0; x < x1; ++x) hi = row[x] > hi ? row[x] : hi;
            }
            tile_max[ty * d->tiles_per_row + tx] = hi;
        }
    }
}

static float magnitude(float hi, float lo) { return fabsf(hi) > fabsf(lo) ? fabsf(hi) : fabsf(lo); }

/* Whether every heatmap row of joint j is computed. */
static int heat_whole(const lp_decoder *d, int j) {
    for (int y = 0; y < d->gh; ++y)
        if (!d->heat_ready[(size_t)j * d->gh + y]) return 0;
    return 1;
}

/* Per tile of joint j: an upper bound of the heat and each tag dimension's range (the refine
 * step's bounds). The heat maximum is exact from the whole heatmap at stride 2 (cheap there) or
 * where the candidate search computed it anyway; else it, and the tag ranges always, come from
 * the pixels the tile's pixels are blended from: a blend lies within its inputs, up to a few
 * float32 roundings of the largest magnitude involved (the margin). So the tags, and projected
 * heat, are computed only in the tiles scanned. */
static void ensure_tiles(lp_decoder *d, lp_work *w, int j) {
    if (d->tiles_ready[j]) return;
    d->whole_heat[j] = !d->project; /* every row at stride 2 (below): the next frame's first step may
                                     * compute them at once */
    const int T = d->tile_count;
    const size_t ng = plane(d->gh, d->gw);
    lp_tile *tiles = d->tiles + (size_t)j * T;
    float *hi = w->tilework, *lo = hi + T, *scale = lo + T;
    if (!d->project)
        for (int y = 0; y < d->gh; ++y) heat_row(d, w, j, y);
    if (d->heat_max_ready[j]) { /* rows_and_candidates found them */
    } else if (!d->project || heat_whole(d, j)) {
        tile_maxima(d, d->heat + (size_t)j * ng, hi);
        for (int i = 0; i < T; ++i) tiles[i].heat_max = hi[i];
    } else {
        for (int i = 0; i < T; ++i) tiles[i].heat_max = scale[i] = 0.0f;
        for (int s = 0; s < d->sides; ++s) { /* each side's stride-2 heatmap */
            const lp_source heat = heat2_source(d, s, j);
            tile_extrema(d, w, &heat, hi, lo);
            for (int i = 0; i < T; ++i) {
                tiles[i].heat_max += hi[i];
                scale[i] = scale[i] > magnitude(hi[i], lo[i]) ? scale[i] : magnitude(hi[i], lo[i]);
            }
        }
        for (int i = 0; i < T; ++i)
            tiles[i].heat_max = tiles[i].heat_max / (float)d->sides + LP_HEAT_MARGIN * scale[i];
    }
    /* Tag ranges from the pixels the tags are blended from: the stage-1 outputs at stride 2
     * (the scanned tiles' tags are computed per tile), the whole stride-2 tags projected. */
    if (d->project) ensure_tag_maps(d, w, j);
    for (int s = 0; s < d->sides; ++s) {
        const lp_source tag = tag_source(d, s, j);
        tile_extrema(d, w, &tag, hi, lo);
        for (int i = 0; i < T; ++i) {
            const float margin = LP_TAG_MARGIN * magnitude(hi[i], lo[i]);
            tiles[i].tag_lo[s] = lo[i] - margin;
            tiles[i].tag_hi[s] = hi[i] + margin;
        }
    }
    /* super tiles (SUPER x SUPER tiles): the union of their tiles' bounds */
    const int per_row = d->tiles_per_row, rows = (T + per_row - 1) / per_row;
    const int supers_per_row = (per_row + SUPER - 1) / SUPER;
    lp_tile *supers = d->supers + (size_t)j * d->super_count;
    for (int ty = 0; ty < rows; ++ty)
        for (int tx = 0; tx < per_row; ++tx) {
            const lp_tile *t = &tiles[ty * per_row + tx];
            lp_tile *u = &supers[ty / SUPER * supers_per_row + tx / SUPER];
            if (ty % SUPER == 0 && tx % SUPER == 0) {
                *u = *t;
                continue;
            }
            u->heat_max = t->heat_max > u->heat_max ? t->heat_max : u->heat_max;
            for (int s = 0; s < d->sides; ++s) {
                u->tag_lo[s] = t->tag_lo[s] < u->tag_lo[s] ? t->tag_lo[s] : u->tag_lo[s];
                u->tag_hi[s] = t->tag_hi[s] > u->tag_hi[s] ? t->tag_hi[s] : u->tag_hi[s];
            }
        }
    d->tiles_ready[j] = 1;
}

/* heat - round(|tag - person_tag|) in float32, as the reference computes it. */
static float refine_value(float heat, const float *tag, const float *person_tag, int sides) {
    const float d0 = tag[0] - person_tag[0];
    float sq = d0 * d0;
    if (sides == 2) {
        const float d1 = tag[1] - person_tag[1];
        sq = sq + d1 * d1;
    }
    return heat - round_even(sqrtf(sq));
}

/* refine_value of n <= LP_TILE pixels in a row into values; 0 when none reaches `reach` (so the
 * caller may skip the row; NaN values reach nothing, as they win no comparison). */
static int refine_values(const float *heat, const float *tag0, const float *tag1, const float *person_tag, int sides,
                         int n, float reach, float *values) {
#if defined(LP_V4_MATH)
    if (n == LP_TILE) {
        const lp_v4 p0 = v4_set1(person_tag[0]), p1 = v4_set1(sides == 2 ? person_tag[1] : 0.0f);
        const lp_v4 big = v4_set1(8388608.0f); /* round_even, four at a time */
        lp_v4 top = v4_set1(-INFINITY);
        for (int x = 0; x < LP_TILE; x += 4) {
            const lp_v4 d0 = v4_sub(v4_load(tag0 + x), p0);
            lp_v4 sq = v4_mul(d0, d0);
            if (sides == 2) {
                const lp_v4 d1 = v4_sub(v4_load(tag1 + x), p1);
                sq = v4_add(sq, v4_mul(d1, d1));
            }
            const lp_v4 distance = v4_sqrt(sq);
            const lp_v4 rounded = v4_select(v4_less(distance, big), v4_sub(v4_add(distance, big), big), distance);
            const lp_v4 value = v4_sub(v4_load(heat + x), rounded);
            v4_store(values + x, value);
            top = v4_max(value, top); /* a NaN value leaves top as it was */
        }
        float tops[4];
        v4_store(tops, top);
        return tops[0] >= reach || tops[1] >= reach || tops[2] >= reach || tops[3] >= reach;
    }
#endif
    int any = 0;
    for (int x = 0; x < n; ++x) {
        float tag[2];
        tag[0] = tag0[x];
        tag[1] = sides == 2 ? tag1[x] : 0.0f;
        values[x] = refine_value(heat[x], tag, person_tag, sides);
        any |= values[x] >= reach;
    }
    return any;
}

/* The largest refine value a tile can hold: its heat bound less the rounded distance of the
 * tag range's nearest point. Every float32 step of refine_value is monotonic and the range holds
 * every tag of the tile, so no pixel's value exceeds it. */
static float tile_bound(const lp_tile *t, const float *person_tag, int sides) {
    float near[2] = {0.0f, 0.0f};
    for (int s = 0; s < sides; ++s) {
        const float p = person_tag[s];
        near[s] = p < t->tag_lo[s] ? t->tag_lo[s] - p : (p > t->tag_hi[s] ? p - t->tag_hi[s] : 0.0f);
    }
    float sq = near[0] * near[0];
    if (sides == 2) sq = sq + near[1] * near[1];
    return t->heat_max - round_even(sqrtf(sq));
}

/* Rows y0..y1-1, columns x0..x1-1 (at most LP_TILE each) of the grouping-resolution map that
 * `src` is upsampled to, into out (row stride `stride`), bit for bit the whole map's: each source
 * row's horizontal pass once, then the vertical blend. */
static void upsample_tile(const lp_decoder *d, const lp_source *src, int y0, int y1, int x0, int x1, float *out,
                          size_t stride) {
    const int n = x1 - x0, r0 = src->rows[y0].lo, r1 = src->rows[y1 - 1].hi; /* taps' rows never decrease */
    float pass[(LP_TILE / 2 + 3) * LP_TILE]; /* rows r0..r1 after the horizontal pass */
    for (int r = r0; r <= r1; ++r) {
        const float *row = src->map + (size_t)r * src->width;
        for (int x = 0; x < n; ++x) {
            const lp_tap cx = src->cols[src->mirror ? d->gw - 1 - (x0 + x) : x0 + x];
            pass[(r - r0) * LP_TILE + x] = row[cx.lo] * cx.wlo + row[cx.hi] * cx.whi;
        }
    }
    for (int y = y0; y < y1; ++y) {
        const lp_tap cy = src->rows[y];
        const float *top = pass + (cy.lo - r0) * LP_TILE, *bottom = pass + (cy.hi - r0) * LP_TILE;
        float *o = out + (size_t)(y - y0) * stride;
        for (int x = 0; x < n; ++x) o[x] = top[x] * cy.wlo + bottom[x] * cy.whi;
    }
}

/* The heat and tags of one tile of joint j at the grouping resolution, bit for bit the whole
 * maps' (into d->heat and d->gtags), computed once per tile. */
static void ensure_tile_values(lp_decoder *d, lp_work *work, int j, int tile) {
    uint8_t *filled = d->tile_filled + (size_t)j * d->tile_count + tile;
    if (*filled) return;
    const int h = d->gh, w = d->gw, b = d->tile_size, J = d->J;
    const int y0 = tile / d->tiles_per_row * b, x0 = tile % d->tiles_per_row * b;
    const int y1 = y0 + b < h ? y0 + b : h, x1 = x0 + b < w ? x0 + b : w;
    const size_t ng = plane(h, w);
    for (int s = 0; s < d->sides; ++s) {
        const lp_source tags = tag_source(d, s, j);
        upsample_tile(d, &tags, y0, y1, x0, x1, d->gtags + ((size_t)s * J + j) * ng + (size_t)y0 * w + x0, (size_t)w);
    }
    if (!d->project) { /* whole heat rows are cheap at stride 2 */
        for (int y = y0; y < y1; ++y) heat_row(d, work, j, y);
    } else {
        float side[2][LP_TILE * LP_TILE]; /* each side's projected heat: (side 0 + side 1) / 2 */
        for (int s = 0; s < d->sides; ++s) {
            const lp_source heat2 = heat2_source(d, s, j);
            upsample_tile(d, &heat2, y0, y1, x0, x1, side[s], LP_TILE);
        }
        for (int y = y0; y < y1; ++y) {
            if (d->heat_ready[(size_t)j * h + y]) continue; /* computed whole already (the same values) */
            float *heat = d->heat + ((size_t)j * h + y) * w + x0;
            const float *a = side[0] + (y - y0) * LP_TILE, *c = side[1] + (y - y0) * LP_TILE;
            for (int x = 0; x < x1 - x0; ++x) heat[x] = d->sides == 2 ? (a[x] + c[x]) / 2.0f : a[x];
        }
    }
    *filled = 1;
}

/* Scans one tile, updating the first (row-major) pixel of the largest value. */
static void scan_tile(lp_decoder *d, lp_work *work, int j, int tile, const float *person_tag, float *best,
                      int *best_pixel) {
    const int h = d->gh, w = d->gw, b = d->tile_size, J = d->J;
    const int y0 = tile / d->tiles_per_row * b, x0 = tile % d->tiles_per_row * b;
    const int y1 = y0 + b < h ? y0 + b : h, x1 = x0 + b < w ? x0 + b : w;
    const size_t ng = plane(h, w);
    ensure_tile_values(d, work, j, tile);
    const float *heat = d->heat + (size_t)j * ng;
    const float *tag0 = d->gtags + (size_t)j * ng, *tag1 = d->gtags + ((size_t)J + j) * ng;
    for (int y = y0; y < y1; ++y) {
        const int p0 = y * w + x0, n = x1 - x0;
        float values[LP_TILE];
        if (!refine_values(heat + p0, tag0 + p0, tag1 + p0, person_tag, d->sides, n, *best, values) && *best_pixel >= 0)
            continue; /* no pixel of this tile row reaches the best value */
        for (int x = 0; x < n; ++x) {
            const float value = values[x];
            if (*best_pixel < 0 || value > *best || (value == *best && p0 + x < *best_pixel)) {
                *best = value;
                *best_pixel = p0 + x;
            }
        }
    }
}

/* First (row-major) pixel of joint j maximising heat - round(|tag - person_tag|): the tile with
 * the largest bound first, then every tile whose bound reaches the best value so far, found
 * through super tiles (the union of SUPER x SUPER tiles' bounds) so most tiles are never bounded. */
static int refine_position(lp_decoder *d, lp_work *w, int j, const float *person_tag) {
    const int T = d->tile_count, per_row = d->tiles_per_row;
    const int rows = (T + per_row - 1) / per_row, supers_per_row = (per_row + SUPER - 1) / SUPER;
    const int S = supers_per_row * ((rows + SUPER - 1) / SUPER);
    const lp_tile *tiles = d->tiles + (size_t)j * T, *supers = d->supers + (size_t)j * d->super_count;
    float *bounds = w->bounds; /* [S] super bounds, then [G] bounds of one super's tiles */
    int first = 0;
    for (int i = 0; i < S; ++i) {
        bounds[i] = tile_bound(&supers[i], person_tag, d->sides);
        if (bounds[i] > bounds[first]) first = i;
    }
    float best = -INFINITY;
    int best_pixel = -1;
    /* the super tile with the largest bound first, then every one whose bound reaches the best */
    for (int k = -1; k < S; ++k) {
        const int i = k < 0 ? first : k;
        if ((k >= 0 && i == first) || (best_pixel >= 0 && bounds[i] < best)) continue;
        const int ty0 = i / supers_per_row * SUPER, tx0 = i % supers_per_row * SUPER;
        float *inner = bounds + S;
        int n = 0, top = -1;
        for (int ty = ty0; ty < ty0 + SUPER && ty < rows; ++ty)
            for (int tx = tx0; tx < tx0 + SUPER && tx < per_row; ++tx, ++n) {
                inner[n] = tile_bound(&tiles[ty * per_row + tx], person_tag, d->sides);
                if (top < 0 || inner[n] > inner[top]) top = n;
            }
        const int width = tx0 + SUPER < per_row ? SUPER : per_row - tx0;
        for (int m = -1; m < n; ++m) { /* its best tile first */
            const int t = m < 0 ? top : m;
            if ((m >= 0 && t == top) || (best_pixel >= 0 && inner[t] < best)) continue;
            scan_tile(d, w, j, (ty0 + t / width) * per_row + tx0 + t % width, person_tag, &best, &best_pixel);
        }
    }
    return best_pixel;
}

/* Joint j of every person that misses it: the best pixel where the heatmap is high and the tag
 * is the person's (refine_people prepared the people's mean tags). */
static void refine_joint(lp_decoder *d, lp_work *w, int j) {
    const int J = d->J, gw = d->gw;
    for (int g = 0; g < d->num_refined; ++g) {
        float *person = d->keypoints + (size_t)d->refined[g] * J * 3;
        if (person[j * 3 + 2] > 0) continue;
        ensure_tiles(d, w, j);
        const int pixel = refine_position(d, w, j, d->person_tags + 2 * g);
        if (pixel < 0) continue;
        const float value = heat_at(d, w, j, pixel / gw, pixel % gw);
        if (!(value > 0)) continue;
        quarter_offset(d, w, j, pixel % gw, pixel / gw, &person[j * 3], &person[j * 3 + 1]);
        person[j * 3 + 2] = value;
    }
}

/* Fills each person's missing joints (a person with every joint, or none, has nothing to fill).
 * The mean of the found joints' tags: float64 in joint order, then float32 as the maps. */
int refine_people(lp_decoder *d, float *keypoints, int num_people) {
    const int J = d->J;
    char *p = (char *)buf_get(&d->buf_persons, (sizeof(float) * 2 + sizeof(int)) * (size_t)(num_people + 1));
    if (!p) return LP_ERR_NOMEM;
    d->person_tags = (float *)p;
    d->refined = (int *)(p + sizeof(float) * 2 * (size_t)(num_people + 1));
    d->keypoints = keypoints;
    d->num_refined = 0;
    int missing = 0;
    for (int g = 0; g < num_people; ++g) {
        const float *person = keypoints + (size_t)g * J * 3;
        double sum[2] = {0.0, 0.0};
        int found = 0;
        for (int j = 0; j < J; ++j) {
            if (!(person[j * 3 + 2] > 0)) continue;
            const float *gj = group_joint(d, g, j);
            for (int s = 0; s < d->sides; ++s) sum[s] += (double)gj[3 + s];
            ++found;
        }
        if (found == 0 || found == J) continue;
        for (int s = 0; s < 2; ++s) d->person_tags[2 * d->num_refined + s] = (float)(sum[s] / (double)found);
        d->refined[d->num_refined++] = g;
        missing += J - found;
    }
    if (d->num_refined) for_each_joint(d, refine_joint, missing >= LP_THREADS_MIN_MISSING_JOINTS);
    return LP_OK;
}
