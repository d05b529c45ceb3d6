// A layering probe (see CMakeLists.txt).
#include "runtime/http/api.hpp"
