// A layering probe (see CMakeLists.txt).
#include "engine/counts.hpp"
#include "runtime/canvas/page.hpp"
