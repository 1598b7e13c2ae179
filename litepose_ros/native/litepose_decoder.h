/*
 * litepose_ros native decoder core: the public C ABI (all that Python sees, through ctypes).
 * Declared once here for C and once in native/abi.py for Python; lp_config_layout lets the
 * Python side check, at load, that both describe lp_config alike.
 */
#ifndef LITEPOSE_DECODER_H
#define LITEPOSE_DECODER_H
#include <stdint.h>

#if defined(_WIN32)
#define LP_EXPORT __declspec(dllexport)
#else
#define LP_EXPORT __attribute__((visibility("default")))
#endif

#define LP_ABI_VERSION 2 /* native/abi.py ABI_VERSION; 2: lp_config_layout */

enum { LP_OK = 0, LP_ERR_NOMEM = -1, LP_ERR_ARGS = -2, LP_ERR_CAPACITY = -3, LP_ERR_NONFINITE = -4 };

/* Decoder settings, field for field DecoderConfig (decoding/config.py) and LpConfig (native/abi.py,
 * which compares its layout with lp_config_layout's at load). */
typedef struct {
    int32_t num_joints;
    int32_t max_num_people;
    int32_t nms_kernel;
    int32_t project_to_input;
    int32_t adjust;
    int32_t refine;
    int32_t use_detection_val;
    int32_t ignore_too_much;
    double detection_threshold;
    double tag_threshold;
    const int32_t *joint_order; /* [num_joints] */
    const int32_t *flip_index;  /* [num_joints] */
} lp_config;

typedef struct lp_decoder lp_decoder; /* one thread's decoder state and buffers (opaque) */

LP_EXPORT int lp_abi_version(void);
LP_EXPORT int lp_config_layout(int64_t *out, int capacity);
LP_EXPORT lp_decoder *lp_decoder_create(void);
LP_EXPORT void lp_decoder_destroy(lp_decoder *d);
LP_EXPORT int lp_decoder_set_threads(lp_decoder *d, int threads);
LP_EXPORT int lp_max_people(const lp_config *cfg);
LP_EXPORT int lp_decode(lp_decoder *d, const lp_config *cfg, const float *stage1, const float *stage2,
                        const float *flipped_stage1, const float *flipped_stage2, int h1, int w1, float *keypoints,
                        float *scores, int capacity);
#endif
