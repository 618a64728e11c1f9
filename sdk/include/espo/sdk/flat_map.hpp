// SPDX-License-Identifier: Apache-2.0
//
// FlatMap / FlatSet: open-addressing hash tables (linear probing, backward-shift erase, load at
// most 1/2, Fibonacci hashing) for integer keys, with the subset of std::unordered_map's interface
// the SDK uses (find / end / count / emplace / operator[] / at / erase / size / iteration). One
// array, no node per entry: the SaManager's SPI and selector indexes are looked up several times
// per rekey, and std::unordered_map's node chasing and modulo were a large part of its cost.
// Unlike std::unordered_map, any insert or erase invalidates iterators and references; iteration
// order is unspecified. Internal to the SDK (not part of its API).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace espo::sdk::detail {

template <typename K, typename V>
class FlatMap {
  static_assert(std::is_integral_v<K>, "FlatMap keys are integers");

  // Pointer values: a null value marks a free slot (16-byte slots for the SDK's indexes of
  // records); others carry a flag.
  static constexpr bool kPointerValues = std::is_pointer_v<V>;
  struct FlaggedSlot {
    std::pair<K, V> kv{};
    bool used = false;
    bool Used() const { return used; }
    void SetUsed(bool u) { used = u; }
  };
  struct PointerSlot {
    std::pair<K, V> kv{};
    bool Used() const { return kv.second != nullptr; }
    void SetUsed(bool /*u*/) {}
  };
  using Slot = std::conditional_t<kPointerValues, PointerSlot, FlaggedSlot>;

 public:
  template <bool Const>
  class Iter {
   public:
    using Owner = std::conditional_t<Const, const FlatMap, FlatMap>;
    using Pair = std::conditional_t<Const, const std::pair<K, V>, std::pair<K, V>>;
    Iter() = default;
    Iter(Owner* map, std::size_t i) : map_(map), i_(i) { Skip(); }
    template <bool C = Const, typename = std::enable_if_t<!C>>
    operator Iter<true>() const {  // NOLINT(google-explicit-constructor): iterator -> const
      return Iter<true>(map_, i_);
    }
    Pair& operator*() const { return map_->slots_[i_].kv; }
    Pair* operator->() const { return &map_->slots_[i_].kv; }
    Iter& operator++() {
      ++i_;
      Skip();
      return *this;
    }
    bool operator==(const Iter& o) const { return i_ == o.i_; }
    bool operator!=(const Iter& o) const { return i_ != o.i_; }
    std::size_t index() const { return i_; }

   private:
    void Skip() {
      while (i_ < map_->slots_.size() && !map_->slots_[i_].Used()) ++i_;
    }
    Owner* map_ = nullptr;
    std::size_t i_ = 0;
  };
  using iterator = Iter<false>;
  using const_iterator = Iter<true>;

  iterator begin() { return iterator(this, 0); }
  iterator end() { return iterator(this, slots_.size()); }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, slots_.size()); }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() {
    slots_.clear();
    size_ = 0;
    shift_ = 64;
  }
  void reserve(std::size_t n) {
    if (2 * n > slots_.size()) Rehash(std::bit_ceil(std::max<std::size_t>(16, 2 * n)));
  }

  iterator find(K key) { return iterator(this, Locate(key)); }
  const_iterator find(K key) const { return const_iterator(this, Locate(key)); }
  std::size_t count(K key) const { return Locate(key) != slots_.size() ? 1 : 0; }
  V& at(K key) {
    const std::size_t i = Locate(key);
    if (i == slots_.size()) throw std::out_of_range("FlatMap::at");
    return slots_[i].kv.second;
  }
  const V& at(K key) const {
    const std::size_t i = Locate(key);
    if (i == slots_.size()) throw std::out_of_range("FlatMap::at");
    return slots_[i].kv.second;
  }

  // Inserts {key, value} unless the key is present; the bool says whether it was inserted.
  // With pointer values, `value` must not be null (null marks a free slot).
  template <typename T>
  std::pair<iterator, bool> emplace(K key, T&& value) {
    if (2 * (size_ + 1) > slots_.size()) Rehash(std::max<std::size_t>(16, 2 * slots_.size()));
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = Home(key);; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (!s.Used()) {
        s.kv.first = key;
        s.kv.second = V(std::forward<T>(value));
        s.SetUsed(true);
        ++size_;
        return {iterator(this, i), true};
      }
      if (s.kv.first == key) return {iterator(this, i), false};
    }
  }
  // Sets the value of `key`, inserting it if absent (pointer values: not null).
  void insert_or_assign(K key, V value) {
    auto [it, inserted] = emplace(key, value);
    if (!inserted) it->second = value;
  }
  V& operator[](K key) {
    static_assert(!kPointerValues, "pointer-valued FlatMap: use insert_or_assign");
    return emplace(key, V{}).first->second;
  }

  void erase(const_iterator it) { EraseSlot(it.index()); }
  std::size_t erase(K key) {
    const std::size_t i = Locate(key);
    if (i == slots_.size()) return 0;
    EraseSlot(i);
    return 1;
  }

 private:
  std::size_t Home(K key) const {
    return static_cast<std::size_t>((static_cast<std::uint64_t>(key) * 0x9E3779B97F4A7C15ULL) >>
                                    shift_);
  }
  // The slot holding `key`, or slots_.size().
  std::size_t Locate(K key) const {
    if (size_ == 0) return slots_.size();
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = Home(key);; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (!s.Used()) return slots_.size();
      if (s.kv.first == key) return i;
    }
  }
  void Rehash(std::size_t capacity) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.resize(capacity);
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(capacity));
    size_ = 0;
    for (Slot& s : old) {
      if (s.Used()) emplace(s.kv.first, std::move(s.kv.second));
    }
  }
  // Backward-shift deletion: later entries of the probe run move up so no tombstone is needed.
  void EraseSlot(std::size_t hole) {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t j = (hole + 1) & mask; slots_[j].Used(); j = (j + 1) & mask) {
      const std::size_t home = Home(slots_[j].kv.first);
      // Entry j may fill the hole unless its home lies cyclically in (hole, j].
      const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (stays) continue;
      slots_[hole].kv = std::move(slots_[j].kv);
      hole = j;
    }
    slots_[hole].kv = {};
    slots_[hole].SetUsed(false);
    --size_;
  }

  std::vector<Slot> slots_;  // size 0 or a power of two
  std::size_t size_ = 0;
  unsigned shift_ = 64;
};

template <typename K>
class FlatSet {
 public:
  std::pair<bool, bool> insert(K key) {  // {unused, inserted}: callers test .second
    return {true, map_.emplace(key, true).second};
  }
  std::size_t count(K key) const { return map_.count(key); }
  std::size_t erase(K key) { return map_.erase(key); }
  std::size_t size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }
  void clear() { map_.clear(); }
  void reserve(std::size_t n) { map_.reserve(n); }

 private:
  FlatMap<K, bool> map_;
};

}  // namespace espo::sdk::detail
