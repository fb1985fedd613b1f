// Start-up probe (docs/adr/0008-aws-http-client.md): the baseline, a C++ program linking only
// the C++ runtime (every probe prints with iostream, so that each loads libstdc++ as imgup does).
#include <iostream>

int main() {
  std::cout << ("ok") << "\n";
  return 0;
}
