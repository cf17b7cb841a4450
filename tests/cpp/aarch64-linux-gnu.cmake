# CMake toolchain: aarch64 Linux (Grace-Hopper / Grace-Blackwell hosts) cross-compiled with
# Debian's g++-aarch64-linux-gnu; tests run under qemu-user (package qemu-user).
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=tests/cpp/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
