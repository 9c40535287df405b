// Must NOT compile: core/os is the bottom layer and cannot see core.
#include <rrun/core/state.hpp>
int main() {
  return 0;
}
