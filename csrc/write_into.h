// write_into.h — how the *_into ops (normal_nonces_into, concat_normal_nonces_into) fill a
// caller's buffer on either device: in place when it is contiguous, else through a contiguous
// copy (a strided view of a KV-cache buffer, say). The caller sets the device guard.
#pragma once

#include <ATen/ATen.h>

namespace pocrand {

// fill(t) writes t, a contiguous tensor of out's shape, dtype and device.
template <typename Fill>
void write_into(const at::Tensor& out, Fill fill) {
  if (out.is_contiguous()) {
    fill(out);
    return;
  }
  auto tmp = at::empty(out.sizes(), out.options());
  fill(tmp);
  out.copy_(tmp);
}

}  // namespace pocrand
