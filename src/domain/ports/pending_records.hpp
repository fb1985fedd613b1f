#pragma once
// The PendingRecords port: the local runtime's work queue, read across owners
// (SqliteMetadataStore). Not a request port: on AWS the S3 event of the original feeds the
// processor, and no adapter there scans every owner. Every implementation passes
// tests/unit/pending_records_contract_test.cpp.
#include <cstddef>
#include <vector>

#include "base/error.hpp"
#include "domain/image_record.hpp"

namespace imgup {

class PendingRecords {
 public:
  virtual ~PendingRecords() = default;
  /// Up to `limit` records (of every owner) in status "processing", oldest (smallest id)
  /// first: the records a crash left in "processing" are picked up again at start-up, and the
  /// WorkerPool refills its window from here.
  virtual Result<std::vector<RecordRef>> ListProcessing(std::size_t limit) = 0;
};

}  // namespace imgup
