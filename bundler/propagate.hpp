// Propagation without adding context, for internal helpers whose errors already name the recipe
// and the item (AIRLOCK_TRY/AIRLOCK_CHECK would stack "plan: plan: ..." onto every message).
#pragma once

#include "core/error.hpp"

#define BUNDLER_TRY_IMPL(tmp, decl, expr)                                      \
  auto tmp = (expr);                                                           \
  if (!tmp) return ::tl::unexpected<::airlock::Error>(std::move(tmp).error()); \
  decl = std::move(*tmp)
#define BUNDLER_TRY(decl, expr) BUNDLER_TRY_IMPL(AIRLOCK_CONCAT(_bundler_r_, __LINE__), decl, expr)
#define BUNDLER_CHECK_IMPL(tmp, expr)                                            \
  do {                                                                           \
    auto tmp = (expr);                                                           \
    if (!tmp) return ::tl::unexpected<::airlock::Error>(std::move(tmp).error()); \
  } while (0)
#define BUNDLER_CHECK(expr) BUNDLER_CHECK_IMPL(AIRLOCK_CONCAT(_bundler_s_, __LINE__), expr)
