// ops.cpp — the pocrand library (TORCH_LIBRARY), its build_info op and the Python module whose
// import runs every registration. Each topic's ops live in csrc/bind/<topic>.cpp
// (docs/architecture.md lists the topics).
// Seeds travel as int64 tensors holding u32 values (their low 32 bits are used), on the device the
// output should live on, so one launch serves a whole batch of nonces.
#include <Python.h>
#include <torch/library.h>

#include <string>

#ifndef POCRAND_CUDA_ARCHS
#define POCRAND_CUDA_ARCHS ""
#endif

extern "C" {
// An empty module: `import pocrand_ext._C` is only needed for its static registrations below.
PyObject* PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module_def);
}
}

namespace pocrand {

// "cpu" or "cpu+cuda:<archs>", fixed at build time.
std::string build_info() {
#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
  return std::string("cpu+cuda:") + POCRAND_CUDA_ARCHS;
#else
  return "cpu";
#endif
}

TORCH_LIBRARY(pocrand, m) {
  m.def("build_info() -> str", &build_info);
  // Every other op is declared in its topic's binding file, csrc/bind/<topic>.cpp, beside its
  // argument checks and its CPU and CUDA implementations (TORCH_LIBRARY_FRAGMENT).
}

}  // namespace pocrand
