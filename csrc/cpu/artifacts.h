// artifacts.h — PoC v2's Haar rotation and artifacts on the CPU, torch-free (SPEC.md 9.2, 9.3,
// 9.4, 9.10, 9.11). Seeds are int64 holding u32 values. Arguments are checked by the caller
// (csrc/bind/artifacts.cpp).
#pragma once

#include <stdint.h>

#include "storage.h"

namespace pocrand {
namespace cpu {

// x [rows, k] of `type` -> out [rows, k] of `type`: haar_rotate with seeds [rows, k - 1] (9.10),
// every step delivered in `type`.
void haar_rotate(Dtype type, const void* x, const int64_t* seeds, int64_t rows, int64_t k, void* out);
// hidden [rows, H] of `type`, seeds [rows, k] (column 0 the pick seed, columns 1 .. k - 1 the Haar
// seeds) -> fp16 bits [rows, k] and flags [rows] (a row whose norm is not finite) (9.11).
void artifacts(Dtype type, const void* hidden, const int64_t* seeds, int64_t rows, int64_t H,
               int64_t k, uint16_t* out, bool* flags);

}  // namespace cpu
}  // namespace pocrand
