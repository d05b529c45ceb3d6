// A layering probe (see CMakeLists.txt).
#include "dsl/expect.hpp"
#include "runtime/common/json_guard.hpp"
