// A layering probe (see CMakeLists.txt).
#include "runtime/serve/daemon.hpp"
