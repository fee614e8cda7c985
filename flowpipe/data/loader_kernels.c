/* Native loops of the flow-stack loader (see flowpipe/data/native_loader.py for why):
   - box_values: plane boxes dequantised, mirrored and mean-centred when asked;
   - decode_boxes: gray JPEG planes decoded by libjpeg(-turbo) straight into a box;
   - trajectory_chain: a chain of fields followed from a grid of points, each step decoding
     (or copying) only the box its points visit and sampling x and y codes bilinearly. */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#if !defined(LIBJPEG_TURBO_VERSION)
#error "needs libjpeg-turbo (jpeg_crop_scanline, jpeg_skip_scanlines)"
#endif
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

/* p[i] -= the mean of p[0..n) (the paper's per-field mean flow subtraction), done while
   the plane is still in cache. */
static void subtract_mean(float *p, int64_t n) {
    double total = 0.0;
    int64_t i = 0;
#if defined(__AVX2__) && defined(__FMA__)
    __m256 sums[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                      _mm256_setzero_ps()};
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < 4; ++k) sums[k] = _mm256_add_ps(sums[k], _mm256_loadu_ps(p + i + 8 * k));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(sums[0], sums[1]),
                                          _mm256_add_ps(sums[2], sums[3])));
    for (int k = 0; k < 8; ++k) total += lanes[k];
#endif
    for (; i < n; ++i) total += p[i];
    const float mean = (float)(total / (double)n);
    for (i = 0; i < n; ++i) p[i] -= mean;
}

/* out[k] = the square size x size box of code plane k (x planes even, y odd), dequantised
   exactly as codec.dequantize does ((q * 2b) / 255 - b in float32), mirrored and x negated
   when flip, its mean subtracted when asked. */
void box_values(const uint8_t *codes, int64_t planes, int64_t plane_stride, int64_t row_stride,
                int64_t size, int32_t flip, float bound, int32_t centre, float *out) {
    const float two_b = 2.0f * bound;
    for (int64_t k = 0; k < planes; ++k) {
        const float sign = flip && k % 2 == 0 ? -1.0f : 1.0f;  /* exact: a negation */
        for (int64_t r = 0; r < size; ++r) {
            const uint8_t *row = codes + k * plane_stride + r * row_stride;
            float *o = out + (k * size + r) * size;
            if (flip) {
                for (int64_t c = 0; c < size; ++c)
                    o[c] = sign * ((float)row[size - 1 - c] * two_b / 255.0f - bound);
            } else {
                for (int64_t c = 0; c < size; ++c) o[c] = (float)row[c] * two_b / 255.0f - bound;
            }
        }
        if (centre) subtract_mean(out + k * size * size, size * size);
    }
}

/* ---- JPEG boxes ------------------------------------------------------------------------ */

typedef struct { int64_t x0, y0, w, h; } box_t;

struct failure {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char *message;
};

static void on_error(j_common_ptr c) {
    struct failure *f = (struct failure *)c->err;
    (*c->err->format_message)(c, f->message);
    longjmp(f->jump, 1);
}

/* Warnings (corrupt data the library would paper over) count as errors. */
static void on_message(j_common_ptr c, int level) {
    if (level < 0) on_error(c);
}

static void start(struct jpeg_decompress_struct *cinfo, struct failure *err, char *message) {
    cinfo->err = jpeg_std_error(&err->mgr);
    err->mgr.error_exit = on_error;
    err->mgr.emit_message = on_message;
    err->message = message;
}

/* Decode the box of one gray h x w JPEG into out (rows of b.w bytes), row a scratch row of
   w bytes. 0, or 1 when the image is not h x w with one channel (message says what it is);
   libjpeg errors longjmp to the caller's handler. Rows above the box are skipped, columns
   cropped to it, rows below it never decoded. */
static int decode_box(j_decompress_ptr cinfo, const unsigned char *data, int64_t size,
                      int64_t h, int64_t w, box_t b, uint8_t *out, uint8_t *row, char *message) {
    jpeg_mem_src(cinfo, data, (unsigned long)size);
    jpeg_read_header(cinfo, TRUE);
    if (cinfo->image_width != w || cinfo->image_height != h || cinfo->num_components != 1) {
        snprintf(message, 200, "a %ux%u image of %d channels, expected %ldx%ld gray",
                 cinfo->image_width, cinfo->image_height, cinfo->num_components, (long)w,
                 (long)h);
        jpeg_abort_decompress(cinfo);
        return 1;
    }
    cinfo->dct_method = JDCT_ISLOW;
    jpeg_start_decompress(cinfo);
    JDIMENSION left = (JDIMENSION)b.x0, width = (JDIMENSION)b.w;
    if (b.w < w) jpeg_crop_scanline(cinfo, &left, &width);
    if (b.y0 > 0) jpeg_skip_scanlines(cinfo, (JDIMENSION)b.y0);
    for (int64_t r = 0; r < b.h; ++r) {
        JSAMPROW rows[1] = {row};
        jpeg_read_scanlines(cinfo, rows, 1);
        memcpy(out + r * b.w, row + (b.x0 - left), (size_t)b.w);
    }
    if (cinfo->output_scanline < cinfo->output_height) jpeg_abort_decompress(cinfo);
    else jpeg_finish_decompress(cinfo);
    return 0;
}

/* Decode n gray h x w JPEGs, keeping the box [y0, y0 + bh) x [x0, x0 + bw) of each in
   out[i] ([bh, bw]). Returns -1, or the index of the first image that failed with its
   reason in message (200 bytes) and kind 1 = corrupt data, 2 = not h x w gray. */
int64_t decode_boxes(int64_t n, const unsigned char *const *data, const int64_t *sizes,
                     int64_t h, int64_t w, int64_t x0, int64_t y0, int64_t bw, int64_t bh,
                     uint8_t *out, int32_t *kind, char *message) {
    struct jpeg_decompress_struct cinfo;
    struct failure err;
    volatile int64_t i = 0, failed = -1;
    uint8_t *volatile row = malloc((size_t)w);
    box_t b = {x0, y0, bw, bh};
    *kind = 1;
    if (row == NULL) return 0;
    start(&cinfo, &err, message);
    if (setjmp(err.jump)) {
        failed = i;
        goto done;
    }
    jpeg_create_decompress(&cinfo);
    for (; i < n; ++i) {
        if (decode_box(&cinfo, data[i], sizes[i], h, w, b, out + i * bw * bh, row, message)) {
            *kind = 2;
            failed = i;
            break;
        }
    }
done:
    jpeg_destroy_decompress(&cinfo);
    free(row);
    return failed;
}

/* ---- trajectory steps ------------------------------------------------------------------ */

static inline float clampf(float v, float hi) { return v < 0.f ? 0.f : (v > hi ? hi : v); }

/* Point i of a step: bilinear codes at (px, py), dequantised, the point moved (update). */
static inline void step_one(const uint8_t *codes, box_t b, int64_t w, int64_t h, float scale,
                            float offset, float *px, float *py, int64_t i, float *ox, float *oy,
                            int32_t update) {
    float x = px[i], y = py[i];
    int64_t ix = (int64_t)x, iy = (int64_t)y;
    if (ix > w - 2) ix = w - 2;
    if (iy > h - 2) iy = h - 2;
    float fx = x - (float)ix, fy = y - (float)iy;
    const uint8_t *a = codes + 2 * ((iy - b.y0) * b.w + (ix - b.x0)), *c = a + 2 * b.w;
    float v[2];
    for (int ch = 0; ch < 2; ++ch) {
        float top = a[ch] + fx * (a[ch + 2] - a[ch]), bottom = c[ch] + fx * (c[ch + 2] - c[ch]);
        v[ch] = (top + fy * (bottom - top)) * scale + offset;
    }
    ox[i] = v[0];
    oy[i] = v[1];
    if (update) {
        px[i] = clampf(x + v[0], (float)(w - 1));
        py[i] = clampf(y + v[1], (float)(h - 1));
    }
}

#if defined(__AVX2__) && defined(__FMA__)
/* Byte k of each 32-bit lane of g, as 8 floats (one in-lane shuffle zero-extends them). */
static inline __m256 lane(__m256i g, int k) {
    const __m256i pick = _mm256_setr_epi8(0, -1, -1, -1, 4, -1, -1, -1, 8, -1, -1, -1, 12, -1,
                                          -1, -1, 0, -1, -1, -1, 4, -1, -1, -1, 8, -1, -1, -1,
                                          12, -1, -1, -1);
    return _mm256_cvtepi32_ps(_mm256_shuffle_epi8(g, _mm256_add_epi8(pick, _mm256_set1_epi32(k))));
}

/* Bilinear value of one channel (byte k = 0 x, 1 y) of the gathered rows (each lane: x, y
   of the left then the right neighbour), the weights shared by both channels. */
static inline __m256 blend(__m256i top, __m256i bottom, int k, __m256 w00, __m256 w01,
                           __m256 w10, __m256 w11, __m256 offset) {
    __m256 v = _mm256_fmadd_ps(lane(top, k), w00, offset);
    v = _mm256_fmadd_ps(lane(top, k + 2), w01, v);
    v = _mm256_fmadd_ps(lane(bottom, k), w10, v);
    return _mm256_fmadd_ps(lane(bottom, k + 2), w11, v);
}

/* Points i..i+7 of a step; *x, *y get them after it. The weights carry the dequantisation
   scale, so v = sum of weight * code + offset. */
static inline void step_eight(const uint8_t *codes, box_t b, int64_t w, int64_t h, float scale,
                              float offset, float *px, float *py, int64_t i, float *ox,
                              float *oy, int32_t update, __m256 *x_out, __m256 *y_out) {
    __m256 x = _mm256_loadu_ps(px + i), y = _mm256_loadu_ps(py + i);
    __m256i ix = _mm256_min_epi32(_mm256_cvttps_epi32(x), _mm256_set1_epi32((int)w - 2));
    __m256i iy = _mm256_min_epi32(_mm256_cvttps_epi32(y), _mm256_set1_epi32((int)h - 2));
    __m256 fx = _mm256_sub_ps(x, _mm256_cvtepi32_ps(ix));
    __m256 fy = _mm256_sub_ps(y, _mm256_cvtepi32_ps(iy));
    __m256i rows = _mm256_mullo_epi32(_mm256_sub_epi32(iy, _mm256_set1_epi32((int)b.y0)),
                                      _mm256_set1_epi32((int)b.w));
    __m256i at = _mm256_add_epi32(rows, _mm256_sub_epi32(ix, _mm256_set1_epi32((int)b.x0)));
    __m256i top = _mm256_i32gather_epi32((const int *)codes, at, 2);
    __m256i bottom = _mm256_i32gather_epi32((const int *)(codes + 2 * b.w), at, 2);
    __m256 s = _mm256_set1_ps(scale), o = _mm256_set1_ps(offset);
    __m256 sy1 = _mm256_mul_ps(s, fy), sy0 = _mm256_sub_ps(s, sy1);
    __m256 w01 = _mm256_mul_ps(sy0, fx), w00 = _mm256_sub_ps(sy0, w01);
    __m256 w11 = _mm256_mul_ps(sy1, fx), w10 = _mm256_sub_ps(sy1, w11);
    __m256 vx = blend(top, bottom, 0, w00, w01, w10, w11, o);
    __m256 vy = blend(top, bottom, 1, w00, w01, w10, w11, o);
    _mm256_storeu_ps(ox + i, vx);
    _mm256_storeu_ps(oy + i, vy);
    if (update) {
        const __m256 zero = _mm256_setzero_ps();
        x = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(x, vx), zero), _mm256_set1_ps((float)(w - 1)));
        y = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(y, vy), zero), _mm256_set1_ps((float)(h - 1)));
        _mm256_storeu_ps(px + i, x);
        _mm256_storeu_ps(py + i, y);
    }
    *x_out = x;
    *y_out = y;
}

static inline float reduce(__m256 v, int want_max) {
    float f[8], r;
    _mm256_storeu_ps(f, v);
    r = f[0];
    for (int k = 1; k < 8; ++k) r = want_max ? (f[k] > r ? f[k] : r) : (f[k] < r ? f[k] : r);
    return r;
}
#endif

/* bounds (min x, min y, max x, max y) grown to hold point (x, y). */
static inline void extend(float *bounds, float x, float y) {
    bounds[0] = x < bounds[0] ? x : bounds[0];
    bounds[1] = y < bounds[1] ? y : bounds[1];
    bounds[2] = x > bounds[2] ? x : bounds[2];
    bounds[3] = y > bounds[3] ? y : bounds[3];
}

/* One step over count points inside the w x h frame: codes is the [b.h, b.w, 2] box of the
   field's interleaved x, y codes, holding every point's 2x2 neighbourhood; codes map to
   values by v * scale + offset (affine, so it commutes with interpolation). bounds gets the
   points' box after the step (min x, min y, max x, max y). */
static void sample_pairs(const uint8_t *codes, box_t b, int64_t w, int64_t h, float scale,
                         float offset, float *px, float *py, int64_t count, float *ox,
                         float *oy, int32_t update, float *bounds) {
    int64_t i = 0;
    bounds[0] = (float)w, bounds[1] = (float)h, bounds[2] = 0.f, bounds[3] = 0.f;
#if defined(__AVX2__) && defined(__FMA__)
    __m256 lx = _mm256_set1_ps(bounds[0]), ly = _mm256_set1_ps(bounds[1]);
    __m256 ux = _mm256_setzero_ps(), uy = ux;
    for (; i + 8 <= count; i += 8) {
        __m256 x, y;
        step_eight(codes, b, w, h, scale, offset, px, py, i, ox, oy, update, &x, &y);
        lx = _mm256_min_ps(lx, x);
        ly = _mm256_min_ps(ly, y);
        ux = _mm256_max_ps(ux, x);
        uy = _mm256_max_ps(uy, y);
    }
    bounds[0] = reduce(lx, 0), bounds[1] = reduce(ly, 0);
    bounds[2] = reduce(ux, 1), bounds[3] = reduce(uy, 1);
#endif
    for (; i < count; ++i) {
        step_one(codes, b, w, h, scale, offset, px, py, i, ox, oy, update);
        extend(bounds, px[i], py[i]);
    }
}

/* The box of frame pixels holding the 2x2 neighbourhood of every point inside bounds. */
static box_t neighbourhoods(const float *bounds, int64_t w, int64_t h) {
    int64_t x0 = (int64_t)bounds[0], y0 = (int64_t)bounds[1];
    int64_t x1 = (int64_t)bounds[2], y1 = (int64_t)bounds[3];
    x0 = x0 > w - 2 ? w - 2 : x0, x1 = x1 > w - 2 ? w - 2 : x1;
    y0 = y0 > h - 2 ? h - 2 : y0, y1 = y1 > h - 2 ? h - 2 : y1;
    box_t b = {x0, y0, x1 + 2 - x0, y1 + 2 - y0};
    return b;
}

/* out = the box of planes x and y (rows of `stride` bytes from the box's corner), interleaved. */
static void interleave(const uint8_t *restrict x, const uint8_t *restrict y, int64_t stride,
                       box_t b, uint8_t *restrict out) {
    for (int64_t r = 0; r < b.h; ++r) {
        const uint8_t *xr = x + r * stride, *yr = y + r * stride;
        uint8_t *o = out + 2 * r * b.w;
        for (int64_t c = 0; c < b.w; ++c) {
            o[2 * c] = xr[c];
            o[2 * c + 1] = yr[c];
        }
    }
}

/* Follow one chain of `steps` fields from count points (px, py, inside the h x w frame, moved
   in place): step s samples field s at the points into outs[2s] (x) and outs[2s + 1] (y),
   then moves them by what it sampled (and, with centre, subtracts each plane's mean after
   that). The fields' planes (x, y of each, in chain order) are
   JPEGs (data, sizes) or, when data is NULL, decoded h x w planes. Returns -1, or the index
   of the plane that failed to decode (kind and message as decode_boxes). */
int64_t trajectory_chain(int64_t steps, const unsigned char *const *data, const int64_t *sizes,
                         const uint8_t *const *planes, int64_t h, int64_t w, float scale,
                         float offset, float *px, float *py, int64_t count, float *const *outs,
                         int32_t centre, int32_t *kind, char *message) {
    struct jpeg_decompress_struct cinfo;
    struct failure err;
    volatile int64_t plane = 0, failed = -1;
    uint8_t *volatile scratch = malloc((size_t)(4 * w * h + w));
    float bounds[4] = {(float)w, (float)h, 0.f, 0.f};
    *kind = 1;
    if (scratch == NULL) return 0;
    uint8_t *xs = scratch, *ys = xs + w * h, *pairs = ys + w * h, *row = pairs + 2 * w * h;
    for (int64_t i = 0; i < count; ++i) extend(bounds, px[i], py[i]);
    start(&cinfo, &err, message);
    if (setjmp(err.jump)) {
        failed = plane;
        goto done;
    }
    jpeg_create_decompress(&cinfo);
    for (int64_t s = 0; s < steps; ++s) {
        box_t b = neighbourhoods(bounds, w, h);
        if (data != NULL) {
            for (plane = 2 * s; plane < 2 * s + 2; ++plane) {
                uint8_t *dst = plane % 2 ? ys : xs;
                if (decode_box(&cinfo, data[plane], sizes[plane], h, w, b, dst, row, message)) {
                    *kind = 2;
                    failed = plane;
                    goto done;
                }
            }
            interleave(xs, ys, b.w, b, pairs);
        } else {
            int64_t corner = b.y0 * w + b.x0;
            interleave(planes[2 * s] + corner, planes[2 * s + 1] + corner, w, b, pairs);
        }
        sample_pairs(pairs, b, w, h, scale, offset, px, py, count, outs[2 * s],
                     outs[2 * s + 1], s < steps - 1, bounds);
        if (centre) {
            subtract_mean(outs[2 * s], count);
            subtract_mean(outs[2 * s + 1], count);
        }
    }
done:
    jpeg_destroy_decompress(&cinfo);
    free(scratch);
    return failed;
}
