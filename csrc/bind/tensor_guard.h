// tensor_guard.h — a clear error for a raw op given None where its schema wants a tensor.
//
// torch.ops.pocrand.<op>(None, ...) passes an undefined tensor. With no defined tensor among the
// arguments the dispatcher finds no backend and raises NotImplementedError ("There were no tensor
// arguments"), which names nothing. A BackendSelect kernel (the dispatcher's per-op hook ahead of
// the backends, also used by bind/streams_by_value.cpp) checks each required tensor argument and
// raises a TypeError naming it; otherwise it redispatches to the backend with the same key set,
// unboxed (one extra indirect call).
//
//   TORCH_LIBRARY_IMPL(pocrand, BackendSelect, m) {
//     POCRAND_TENSOR_GUARD(m, "uniform", uniform_cpu);   // uniform_cpu: the op's C++ signature
//   }
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace pocrand {

template <class Signature>
struct TensorGuard;

template <class R, class... Args>
struct TensorGuard<R(Args...)> {
  template <const char* Name>
  static R kernel(c10::DispatchKeySet ks, Args... args) {
    static const auto handle =
        c10::Dispatcher::singleton().findSchemaOrThrow(Name, "").template typed<R(Args...)>();
    check_defined(handle.schema(), std::index_sequence_for<Args...>{}, args...);
    return handle.redispatch(
        ks & c10::DispatchKeySet(c10::DispatchKeySet::FULL_AFTER, c10::DispatchKey::BackendSelect),
        std::forward<Args>(args)...);
  }

 private:
  template <class T>
  static void check_one(const c10::FunctionSchema& schema, size_t i, const T& value) {
    if constexpr (std::is_same_v<std::decay_t<T>, at::Tensor>) {
      TORCH_CHECK_TYPE(value.defined(), schema.arguments()[i].name() +
                                            " must be a tensor, got None");
    }
  }

  template <size_t... I>
  static void check_defined(const c10::FunctionSchema& schema, std::index_sequence<I...>,
                            const Args&... args) {
    (check_one(schema, I, args), ...);
  }
};

}  // namespace pocrand

#define POCRAND_TENSOR_GUARD(library, op_name, cpu_kernel)                                   \
  do {                                                                                       \
    static constexpr char kQualified[] = "pocrand::" op_name;                                \
    library.impl(op_name,                                                                    \
                 &::pocrand::TensorGuard<decltype(cpu_kernel)>::template kernel<kQualified>); \
  } while (0)
