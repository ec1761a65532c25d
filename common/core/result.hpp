// Result<T>: the one way decoding and validation report failure in seedshare.
// Functions that read hostile input (seed files, frames, command-line values)
// return a Result and never throw; I/O in coroutines throws instead and is
// caught at the top of each session.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace seedshare {

// A human-readable reason, written to be shown as is ("line 3: bad hex").
struct Error {
    std::string message;
};

// E is the failure's type: Error (a sentence) unless the caller must decide
// on it (common/env's IoError carries the errno).
template <class T, class E = Error>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}
    Result(E error) : v_(std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const E& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, E> v_;
};

// For operations that produce nothing but can fail.
struct Ok {};
using Status = Result<Ok>;

}  // namespace seedshare
