// A layering probe (see CMakeLists.txt).
#include "runtime/store/store.hpp"
