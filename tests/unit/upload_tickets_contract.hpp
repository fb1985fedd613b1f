#pragma once
// The UploadTickets contract (src/domain/ports/upload_tickets.hpp) as a typed test suite: traits
// whose `static std::shared_ptr<UploadTickets> Make(const std::filesystem::path& temp_dir)` make
// a fresh, empty store (none when the store's peer is missing: the test is skipped or failed).
// (upload_tickets_contract_test.cpp: SQLite; aws/dynamo_metadata_store_test.cpp: DynamoDB.)
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "domain/ports/upload_tickets.hpp"
#include "fakes/temp_dir.hpp"

namespace imgup::contract {
namespace {

inline UploadTicket MakeTicket(std::string owner, std::string id) {
  UploadTicket t;
  t.id = std::move(id);
  t.owner = std::move(owner);
  t.filename = "big \"photo\" ✓.jpg";
  t.content_type = "image/jpeg";
  t.max_bytes = 5'000'000'000;  // beyond 32 bits
  t.created_ms = 1'700'000'000'123;
  t.expires_at_ms = 1'700'000'900'456;
  return t;
}

template <class Traits>
class UploadTicketsContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Traits::Make(dir_.path());
    if (!store_) {
      if (HasFailure()) FAIL() << "the store's peer is required";
      GTEST_SKIP() << "no peer for this store";
    }
  }
  TempDir dir_;
  std::shared_ptr<UploadTickets> store_;
};

TYPED_TEST_SUITE_P(UploadTicketsContractTest);

TYPED_TEST_P(UploadTicketsContractTest, PutThenGetReturnsEveryField) {
  const UploadTicket ticket = MakeTicket("alice", "01JDX3S9Q7M6V2B8R4T0YH5KCE");
  ASSERT_TRUE(this->store_->PutTicket(ticket));
  auto got = this->store_->GetTicket("alice", ticket.id);
  ASSERT_TRUE(got) << got.error().detail;
  EXPECT_EQ(got->id, ticket.id);
  EXPECT_EQ(got->owner, "alice");
  EXPECT_EQ(got->filename, ticket.filename);
  EXPECT_EQ(got->content_type, "image/jpeg");
  EXPECT_EQ(got->max_bytes, ticket.max_bytes);
  EXPECT_EQ(got->created_ms, ticket.created_ms);
  EXPECT_EQ(got->expires_at_ms, ticket.expires_at_ms);
  EXPECT_EQ(got->state, TicketState::kAwaitingUpload);
  EXPECT_EQ(got->failure_reason, "");
  EXPECT_EQ(got->duplicate_of, "");
  EXPECT_EQ(got->claimed_sha256, "");
  EXPECT_EQ(got->claimed_at_ms, 0);
}

TYPED_TEST_P(UploadTicketsContractTest, TicketsAreTheirOwners) {
  ASSERT_TRUE(this->store_->PutTicket(MakeTicket("alice", "01JDX3S9Q7M6V2B8R4T0YH5KCE")));
  auto other = this->store_->GetTicket("bob", "01JDX3S9Q7M6V2B8R4T0YH5KCE");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kNotFound);
  auto missing = this->store_->GetTicket("alice", "01JDX3S9Q7M6V2B8R4T0YH5KCF");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TYPED_TEST_P(UploadTicketsContractTest, ASecondPutOfTheIdIsAConflict) {
  ASSERT_TRUE(this->store_->PutTicket(MakeTicket("alice", "01JDX3S9Q7M6V2B8R4T0YH5KCE")));
  auto again = this->store_->PutTicket(MakeTicket("alice", "01JDX3S9Q7M6V2B8R4T0YH5KCE"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_EQ(again.error().slug, "duplicate_id");
}

TYPED_TEST_P(UploadTicketsContractTest, FinishingHappensOnce) {
  UploadTicket ticket = MakeTicket("alice", "01JDX3S9Q7M6V2B8R4T0YH5KCE");
  ASSERT_TRUE(this->store_->PutTicket(ticket));
  ticket.state = TicketState::kFailed;
  ticket.failure_reason = "content_type_mismatch: it is a PNG";
  ticket.expires_at_ms += 86'400'000;
  auto finished = this->store_->FinishTicket(ticket);
  ASSERT_TRUE(finished) << finished.error().detail;
  auto got = this->store_->GetTicket("alice", ticket.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, TicketState::kFailed);
  EXPECT_EQ(got->failure_reason, ticket.failure_reason);
  EXPECT_EQ(got->expires_at_ms, ticket.expires_at_ms);

  UploadTicket duplicate = ticket;
  duplicate.state = TicketState::kDuplicate;
  duplicate.duplicate_of = "01JDX3S9Q7M6V2B8R4T0YH5KC0";
  auto second = this->store_->FinishTicket(duplicate);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
  EXPECT_EQ(second.error().slug, "not_awaiting");
  EXPECT_EQ(this->store_->GetTicket("alice", ticket.id)->state, TicketState::kFailed);

  UploadTicket missing = MakeTicket("alice", "01JDX3S9Q7M6V2B8R4T0YH5KCF");
  missing.state = TicketState::kFailed;
  auto none = this->store_->FinishTicket(missing);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
}

TYPED_TEST_P(UploadTicketsContractTest, RemoveDeletesAndMissingIsFine) {
  ASSERT_TRUE(this->store_->PutTicket(MakeTicket("alice", "01JDX3S9Q7M6V2B8R4T0YH5KCE")));
  ASSERT_TRUE(this->store_->RemoveTicket("alice", "01JDX3S9Q7M6V2B8R4T0YH5KCE"));
  EXPECT_FALSE(this->store_->GetTicket("alice", "01JDX3S9Q7M6V2B8R4T0YH5KCE"));
  EXPECT_TRUE(this->store_->RemoveTicket("alice", "01JDX3S9Q7M6V2B8R4T0YH5KCE"));
}

constexpr char kShaA[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr char kShaB[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

TYPED_TEST_P(UploadTicketsContractTest, AClaimIsHeldByOneSha256UntilStale) {
  const UploadTicket ticket = MakeTicket("alice", "01JDX3S9Q7M6V2B8R4T0YH5KCE");
  ASSERT_TRUE(this->store_->PutTicket(ticket));
  const std::int64_t t0 = 1'700'000'100'000;
  auto first = this->store_->ClaimTicket("alice", ticket.id, kShaA, t0, t0 - 300'000);
  ASSERT_TRUE(first) << first.error().detail;
  auto got = this->store_->GetTicket("alice", ticket.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, TicketState::kAwaitingUpload);
  EXPECT_EQ(got->claimed_sha256, kShaA);
  EXPECT_EQ(got->claimed_at_ms, t0);

  // The same bytes again (a retried delivery): the claim is theirs, renewed.
  EXPECT_TRUE(this->store_->ClaimTicket("alice", ticket.id, kShaA, t0 + 10, t0 - 300'000));
  EXPECT_EQ(this->store_->GetTicket("alice", ticket.id)->claimed_at_ms, t0 + 10);
  // Other bytes while the claim is fresh: refused, and the claim unchanged.
  auto other = this->store_->ClaimTicket("alice", ticket.id, kShaB, t0 + 20, t0 - 300'000);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kConflict);
  EXPECT_EQ(other.error().slug, "claimed");
  EXPECT_EQ(this->store_->GetTicket("alice", ticket.id)->claimed_sha256, kShaA);
  // Other bytes once the claim is older than stale_before_ms: theirs.
  ASSERT_TRUE(this->store_->ClaimTicket("alice", ticket.id, kShaB, t0 + 400'000, t0 + 100'000));
  EXPECT_EQ(this->store_->GetTicket("alice", ticket.id)->claimed_sha256, kShaB);

  auto missing =
      this->store_->ClaimTicket("alice", "01JDX3S9Q7M6V2B8R4T0YH5KCF", kShaA, t0, t0 - 300'000);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TYPED_TEST_P(UploadTicketsContractTest, AClaimedTicketIsFinishedOnlyByItsHolder) {
  UploadTicket ticket = MakeTicket("alice", "01JDX3S9Q7M6V2B8R4T0YH5KCE");
  ASSERT_TRUE(this->store_->PutTicket(ticket));
  const std::int64_t t0 = 1'700'000'100'000;
  ASSERT_TRUE(this->store_->ClaimTicket("alice", ticket.id, kShaA, t0, t0 - 300'000));

  ticket.state = TicketState::kFailed;
  ticket.failure_reason = "content_type_mismatch: it is HTML";
  auto unclaimed = this->store_->FinishTicket(ticket);  // holds no claim
  ASSERT_FALSE(unclaimed);
  EXPECT_EQ(unclaimed.error().code, ErrorCode::kConflict);
  EXPECT_EQ(unclaimed.error().slug, "claimed");
  ticket.claimed_sha256 = kShaB;  // another claim than the one held
  auto wrong = this->store_->FinishTicket(ticket);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().slug, "claimed");
  EXPECT_EQ(this->store_->GetTicket("alice", ticket.id)->state, TicketState::kAwaitingUpload);

  ticket.state = TicketState::kDuplicate;
  ticket.failure_reason.clear();
  ticket.duplicate_of = "01JDX3S9Q7M6V2B8R4T0YH5KC0";
  ticket.claimed_sha256 = kShaA;
  auto holder = this->store_->FinishTicket(ticket);
  ASSERT_TRUE(holder) << holder.error().detail;
  EXPECT_EQ(this->store_->GetTicket("alice", ticket.id)->state, TicketState::kDuplicate);
  // A finished ticket is claimed by nobody.
  auto late = this->store_->ClaimTicket("alice", ticket.id, kShaA, t0 + 1, t0 - 300'000);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::kConflict);
  EXPECT_EQ(late.error().slug, "not_awaiting");
}

REGISTER_TYPED_TEST_SUITE_P(UploadTicketsContractTest, PutThenGetReturnsEveryField,
                            TicketsAreTheirOwners, ASecondPutOfTheIdIsAConflict,
                            FinishingHappensOnce, RemoveDeletesAndMissingIsFine,
                            AClaimIsHeldByOneSha256UntilStale,
                            AClaimedTicketIsFinishedOnlyByItsHolder);

}  // namespace
}  // namespace imgup::contract
