#pragma once
#include "common/net/rate_limiter.hpp"  // RateLimiter moved to common/net/
