// Compiled with -std=c++17 by a CTest entry: kvc must stop at its one C++20 message.
#include <kvc/kvc.hpp>
int main() { return 0; }
