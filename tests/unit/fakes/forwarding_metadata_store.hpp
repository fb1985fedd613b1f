#pragma once
// A MetadataStore that forwards every call to another one: tests derive from it and override
// only the call they want to fail, count or interleave with something else.
#include "domain/ports/metadata_store.hpp"

namespace imgup {

class ForwardingMetadataStore : public MetadataStore {
 public:
  explicit ForwardingMetadataStore(MetadataStore& inner) : inner_(inner) {}
  Result<void> Insert(const ImageRecord& r) override { return inner_.Insert(r); }
  Result<ImageRecord> Get(std::string_view o, std::string_view i) override {
    return inner_.Get(o, i);
  }
  Result<ImageRecord> FindBySha256(std::string_view o, std::string_view s) override {
    return inner_.FindBySha256(o, s);
  }
  Result<ImagePage> List(std::string_view o, const ListQuery& q) override {
    return inner_.List(o, q);
  }
  Result<ImageRecord> Update(std::string_view o, std::string_view i, const ImagePatch& p) override {
    return inner_.Update(o, i, p);
  }
  Result<void> SaveDerived(const ImageRecord& r) override { return inner_.SaveDerived(r); }
  Result<std::uint32_t> AdjustAttempts(std::string_view o, std::string_view i, int d) override {
    return inner_.AdjustAttempts(o, i, d);
  }
  Result<void> Remove(std::string_view o, std::string_view i) override {
    return inner_.Remove(o, i);
  }
  Result<RefPage> ListRefs(std::string_view t, std::size_t n) override {
    return inner_.ListRefs(t, n);
  }
  Result<PhashPage> ListPhashes(std::string_view o, std::string_view t, std::size_t n) override {
    return inner_.ListPhashes(o, t, n);
  }

 protected:
  MetadataStore& inner_;
};

}  // namespace imgup
