// A layering probe (see CMakeLists.txt).
#include "runtime/common/config.hpp"
