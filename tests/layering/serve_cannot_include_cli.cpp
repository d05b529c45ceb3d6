// A layering probe (see CMakeLists.txt).
#include "runtime/cli/command.hpp"
