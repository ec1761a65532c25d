// PeerAddress now lives in common/core/address.hpp (one type for discovery,
// the swarm and the peer protocol); this header keeps the old include path.
#pragma once

#include "common/core/address.hpp"
