/* The four-float vector operations of the hot loops (internal). */
#ifndef LITEPOSE_SIMD_H
#define LITEPOSE_SIMD_H
/* Four floats at a time in the hot loops: SSE (every x86-64) or NEON (every aarch64; 32-bit NEON
 * lacks the square root the refine scan needs); plain loops elsewhere. Each lane rounds as the
 * scalar operation does (IEEE float32, no fused multiply-add), so the results do not depend on it. */
#if defined(LP_NO_SIMD) /* plain loops (a test builds it so) */
#elif defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#define LP_V4 1
typedef __m128 lp_v4;
#define v4_load _mm_loadu_ps
#define v4_store _mm_storeu_ps
#define v4_max _mm_max_ps
#define v4_min _mm_min_ps
#define v4_set1 _mm_set1_ps
#define v4_add _mm_add_ps
#define v4_sub _mm_sub_ps
#define v4_mul _mm_mul_ps
#define v4_sqrt _mm_sqrt_ps
#define v4_select(mask, a, b) _mm_or_ps(_mm_and_ps(mask, a), _mm_andnot_ps(mask, b))
#define v4_less _mm_cmplt_ps
/* whether any of a's or b's lanes is greater than t (NaN lanes are not) */
static inline int v4_any_greater(lp_v4 a, lp_v4 b, lp_v4 t) {
    return _mm_movemask_ps(_mm_or_ps(_mm_cmpgt_ps(a, t), _mm_cmpgt_ps(b, t))) != 0;
}
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#define LP_V4 1
typedef float32x4_t lp_v4;
#define v4_load vld1q_f32
#define v4_store vst1q_f32
#define v4_max vmaxq_f32
#define v4_min vminq_f32
#define v4_set1 vdupq_n_f32
#define v4_add vaddq_f32
#define v4_sub vsubq_f32
#define v4_mul vmulq_f32
#define v4_select vbslq_f32
#define v4_less vcltq_f32
static inline int v4_any_greater(lp_v4 a, lp_v4 b, lp_v4 t) {
    const uint32x4_t greater = vorrq_u32(vcgtq_f32(a, t), vcgtq_f32(b, t));
    const uint32x2_t half = vorr_u32(vget_low_u32(greater), vget_high_u32(greater));
    return (vget_lane_u32(half, 0) | vget_lane_u32(half, 1)) != 0;
}
#if defined(__aarch64__) /* 32-bit NEON has no square root */
#define v4_sqrt vsqrtq_f32
#endif
#endif
/* Four IEEE float32 results at once, each rounded as its scalar twin (the refine scan). */
#if defined(LP_V4) && defined(v4_sqrt)
#define LP_V4_MATH 1
#endif
#endif
