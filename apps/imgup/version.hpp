#pragma once

namespace imgup::app {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace imgup::app
