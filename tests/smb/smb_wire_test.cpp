// ndk smb's wire layer (tools/ndk/smb): SMBD and SMB2 messages taken from the cifs <-> ksmbd capture
// (fuzz/corpus/*, extracted by fuzz/smb/make_smb_corpus.py), each parser with bad-input twins that
// must end in SmbError, never in a read outside the message.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "smb/client.h"
#include "smb/ntlmv2.h"
#include "smb/smb2_wire.h"
#include "smb/smbd_wire.h"
#include "smb/tcp_transport.h"

using namespace ndksmb;

namespace {

Bytes seed(const std::string& name) {
  std::ifstream f(std::string(SMB_CORPUS_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << name;
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

Bytes hexBytes(const std::string& h) {
  Bytes b;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) b.push_back(static_cast<std::uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return b;
}

void put32(Bytes& b, std::size_t off, std::uint32_t v) {
  for (int k = 0; k < 4; ++k) b.at(off + k) = static_cast<std::uint8_t>(v >> (8 * k));
}
void put16(Bytes& b, std::size_t off, std::uint16_t v) {
  b.at(off) = static_cast<std::uint8_t>(v);
  b.at(off + 1) = static_cast<std::uint8_t>(v >> 8);
}

smbd::NegotiateRequest ours() {
  smbd::NegotiateRequest r;
  r.creditsRequested = 255;
  r.preferredSendSize = 1364;
  r.maxReceiveSize = 1364;
  r.maxFragmentedSize = 173910;
  return r;
}

}  // namespace

// ---- SMBD --------------------------------------------------------------------------------------

TEST(SmbdWire, NegotiateRequestMatchesTheCifsClientsBytes) {
  EXPECT_EQ(smbd::buildNegotiateRequest(ours()), hexBytes("000100010000ff00540500005405000056a70200"));
}

TEST(SmbdWire, NegotiateResponseOfKsmbd) {
  const smbd::NegotiateResponse n = smbd::parseNegotiateResponse(seed("smbd_messages/smbd-000"), ours());
  EXPECT_EQ(n.negotiatedVersion, 0x0100);
  EXPECT_EQ(n.creditsGranted, 254);
  EXPECT_EQ(n.creditsRequested, 255);
  EXPECT_EQ(n.maxReadWriteSize, 8u << 20);
  EXPECT_EQ(n.maxReceiveSize, 1364u);
  EXPECT_EQ(n.maxFragmentedSize, 173910u);
}

TEST(SmbdWire, NegotiateResponseBadTwins) {
  const Bytes good = seed("smbd_messages/smbd-000");
  Bytes shortMsg(good.begin(), good.end() - 1);
  EXPECT_THROW(smbd::parseNegotiateResponse(shortMsg, ours()), SmbError);
  Bytes status = good;
  put32(status, 12, 0xC0000001);
  EXPECT_THROW(smbd::parseNegotiateResponse(status, ours()), SmbError);
  Bytes version = good;
  put16(version, 4, 0x0200);
  EXPECT_THROW(smbd::parseNegotiateResponse(version, ours()), SmbError);
  Bytes noCredits = good;
  put16(noCredits, 10, 0);
  EXPECT_THROW(smbd::parseNegotiateResponse(noCredits, ours()), SmbError);
  Bytes tinyReceive = good;
  put32(tinyReceive, 24, 64);
  EXPECT_THROW(smbd::parseNegotiateResponse(tinyReceive, ours()), SmbError);
  Bytes bigSend = good;
  put32(bigSend, 20, 4096);  // beyond the 1364 bytes our receives hold
  EXPECT_THROW(smbd::parseNegotiateResponse(bigSend, ours()), SmbError);
}

TEST(SmbdWire, DataMessageCarriesAnSmb2Response) {
  const Bytes m = seed("smbd_messages/smbd-001");
  ByteView payload;
  const smbd::DataHeader h = smbd::parseDataMessage(m, &payload);
  EXPECT_EQ(h.creditsRequested, 255);
  EXPECT_EQ(h.dataOffset, 24u);
  EXPECT_EQ(h.remainingDataLength, 0u);
  ASSERT_EQ(payload.size(), h.dataLength);
  EXPECT_EQ(payload[0], 0xFE);
}

TEST(SmbdWire, DataMessageBadTwins) {
  const Bytes good = seed("smbd_messages/smbd-001");
  ByteView payload;
  EXPECT_THROW(smbd::parseDataMessage(ByteView(good).first(19), &payload), SmbError);
  Bytes pastEnd = good;
  put32(pastEnd, 16, static_cast<std::uint32_t>(good.size()));  // DataLength beyond the message
  EXPECT_THROW(smbd::parseDataMessage(pastEnd, &payload), SmbError);
  Bytes hugeOffset = good;
  put32(hugeOffset, 12, 0xFFFFFFF8);
  EXPECT_THROW(smbd::parseDataMessage(hugeOffset, &payload), SmbError);
  Bytes unaligned = good;
  put32(unaligned, 12, 26);
  EXPECT_THROW(smbd::parseDataMessage(unaligned, &payload), SmbError);
  Bytes insideHeader = good;
  put32(insideHeader, 12, 8);
  EXPECT_THROW(smbd::parseDataMessage(insideHeader, &payload), SmbError);
  Bytes remainingWithoutData = hexBytes("0100010000000000100000000000000000000000");
  EXPECT_THROW(smbd::parseDataMessage(remainingWithoutData, &payload), SmbError);
}

TEST(SmbdWire, DataHeaderRoundTrip) {
  smbd::DataHeader h;
  h.creditsRequested = 32;
  h.creditsGranted = 7;
  h.flags = smbd::kFlagResponseRequested;
  h.remainingDataLength = 100;
  h.dataLength = 3;
  Bytes m = smbd::buildDataHeader(h);
  ASSERT_EQ(m.size(), smbd::kDataOffset);
  m.insert(m.end(), {1, 2, 3});
  ByteView payload;
  const smbd::DataHeader back = smbd::parseDataMessage(m, &payload);
  EXPECT_EQ(back.creditsGranted, 7);
  EXPECT_EQ(back.flags, smbd::kFlagResponseRequested);
  EXPECT_EQ(back.remainingDataLength, 100u);
  EXPECT_EQ(payload.size(), 3u);
  smbd::DataHeader empty;
  empty.creditsGranted = 5;
  EXPECT_EQ(smbd::buildDataHeader(empty).size(), smbd::kDataHeaderMin);  // a credit grant carries no data
}

TEST(SmbdWire, ReassemblyJoinsFragments) {
  smbd::Reassembler r(1000);
  const Bytes a{1, 2, 3}, b{4, 5}, c{6};
  smbd::DataHeader h;
  h.remainingDataLength = 3;
  EXPECT_FALSE(r.add(h, a));
  EXPECT_TRUE(r.inProgress());
  h.remainingDataLength = 1;
  EXPECT_FALSE(r.add(h, b));
  h.remainingDataLength = 0;
  auto done = r.add(h, c);
  ASSERT_TRUE(done);
  EXPECT_EQ(*done, (Bytes{1, 2, 3, 4, 5, 6}));
  EXPECT_FALSE(r.inProgress());
  EXPECT_FALSE(r.add(h, {}));  // a keep-alive between messages
}

TEST(SmbdWire, ReassemblyBadTwins) {
  smbd::Reassembler tooBig(100);
  smbd::DataHeader h;
  h.remainingDataLength = 100;  // 3 + 100 > 100
  EXPECT_THROW(tooBig.add(h, Bytes{1, 2, 3}), SmbError);
  smbd::Reassembler r(1000);
  h.remainingDataLength = 10;
  r.add(h, Bytes{1, 2});
  h.remainingDataLength = 10;  // did not shrink by the 4 bytes carried
  EXPECT_THROW(r.add(h, Bytes{1, 2, 3, 4}), SmbError);
}

// ---- SMB2 --------------------------------------------------------------------------------------

TEST(Smb2Wire, ResponsesOfKsmbd) {
  const smb2::NegotiateResponse n = smb2::parseNegotiateResponse(seed("smb2_responses/smb2-000"));
  EXPECT_EQ(n.dialect, smb2::kDialect300);
  EXPECT_GT(n.maxReadSize, 0u);
  const Bytes challengeRsp = seed("smb2_responses/smb2-001");
  EXPECT_EQ(smb2::parseHeader(challengeRsp).status, smb2::kStatusMoreProcessing);
  const ntlmssp::Challenge c = ntlmssp::parseChallenge(smb2::parseSessionSetupResponse(challengeRsp).securityBlob);
  EXPECT_NE(c.flags, 0u);
  EXPECT_FALSE(c.targetInfo.empty());
  smb2::parseTreeConnectResponse(seed("smb2_responses/smb2-003"));
  const smb2::CreateResponse cr = smb2::parseCreateResponse(seed("smb2_responses/smb2-005"));
  EXPECT_NE(cr.fileId.volatileId, 0u);
  EXPECT_EQ(smb2::parseWriteResponse(seed("smb2_responses/smb2-022")), 1u << 20);
  const smb2::ReadResponse rr = smb2::parseReadResponse(seed("smb2_responses/smb2-027"));
  EXPECT_TRUE(rr.data.empty());           // the data came as RDMA Writes
  EXPECT_EQ(rr.remaining, 1u << 20);      // ... and DataRemaining says how much
  smb2::parseCloseResponse(seed("smb2_responses/smb2-011"));
  smb2::parseEmptyResponse(seed("smb2_responses/smb2-032"));  // TREE_DISCONNECT
  smb2::parseEmptyResponse(seed("smb2_responses/smb2-033"));  // LOGOFF
  EXPECT_EQ(smb2::parseHeader(seed("smb2_responses/smb2-030")).status, smb2::kStatusEndOfFile);
}

TEST(Smb2Wire, HeaderBadTwins) {
  const Bytes good = seed("smb2_responses/smb2-002");
  EXPECT_THROW(smb2::parseHeader(ByteView(good).first(63)), SmbError);
  Bytes proto = good;
  proto[0] = 0xFF;
  EXPECT_THROW(smb2::parseHeader(proto), SmbError);
  Bytes request = good;
  put32(request, 16, 0);  // no response flag
  EXPECT_THROW(smb2::parseHeader(request), SmbError);
  // A compounded response (the capture's CREATE + QUERY_INFO + CLOSE) to a request we never compound.
  EXPECT_THROW(smb2::parseHeader(seed("smb2_responses/smb2-017")), SmbError);
}

TEST(Smb2Wire, BodyBadTwins) {
  Bytes neg = seed("smb2_responses/smb2-000");
  Bytes secPastEnd = neg;
  put16(secPastEnd, 64 + 58, 0xFFFF);  // security buffer length beyond the message
  EXPECT_THROW(smb2::parseNegotiateResponse(secPastEnd), SmbError);
  Bytes secInHeader = neg;
  put16(secInHeader, 64 + 56, 8);
  EXPECT_THROW(smb2::parseNegotiateResponse(secInHeader), SmbError);
  Bytes dialect = neg;
  put16(dialect, 64 + 4, 0x0311);
  EXPECT_THROW(smb2::parseNegotiateResponse(dialect), SmbError);
  EXPECT_THROW(smb2::parseNegotiateResponse(ByteView(neg).first(100)), SmbError);
  // A WRITE response parsed as a CREATE response, and a truncated CREATE response.
  EXPECT_THROW(smb2::parseCreateResponse(seed("smb2_responses/smb2-022")), SmbError);
  Bytes create = seed("smb2_responses/smb2-005");
  EXPECT_THROW(smb2::parseCreateResponse(ByteView(create).first(140)), SmbError);
  Bytes read = seed("smb2_responses/smb2-027");
  Bytes readPastEnd = read;
  put32(readPastEnd, 64 + 4, 16);  // DataLength 16 at offset 80 of an 80-byte message
  EXPECT_THROW(smb2::parseReadResponse(readPastEnd), SmbError);
  // An error response (StructureSize 9) is not a READ response.
  EXPECT_THROW(smb2::parseReadResponse(seed("smb2_responses/smb2-030")), SmbError);
}

TEST(Smb2Wire, StatusNames) {
  EXPECT_EQ(smb2::statusName(0xC0000022), "STATUS_ACCESS_DENIED");
  EXPECT_EQ(smb2::statusName(0xC00000CC), "STATUS_BAD_NETWORK_NAME");
  EXPECT_EQ(smb2::statusName(0xC0001234), "0xc0001234");
}

TEST(Smb2Wire, WriteAndReadThroughTheRdmaChannel) {
  smb2::Header h;
  h.command = smb2::kWrite;
  h.creditCharge = 16;
  const smb2::BufferDescriptor d{0x1122334455667788ull, 0xABCD, 1u << 20};
  const Bytes w = smb2::writeRequestRdma(h, {1, 2}, 4096, smb2::kChannelRdmaV1, d);
  Reader r(w, "test");
  ASSERT_EQ(w.size(), 112u + 16u);
  EXPECT_EQ(r.u16(64 + 2), 0);          // DataOffset
  EXPECT_EQ(r.u32(64 + 4), 0u);         // Length
  EXPECT_EQ(r.u64(64 + 8), 4096u);
  EXPECT_EQ(r.u32(64 + 32), smb2::kChannelRdmaV1);
  EXPECT_EQ(r.u32(64 + 36), 1u << 20);  // RemainingBytes
  EXPECT_EQ(r.u16(64 + 40), 112);
  EXPECT_EQ(r.u16(64 + 42), 16);
  EXPECT_EQ(r.u64(112), d.offset);
  EXPECT_EQ(r.u32(120), d.token);
  EXPECT_EQ(r.u32(124), d.length);
  const Bytes rd = smb2::readRequestRdma(h, {1, 2}, 0, smb2::kChannelRdmaV1, d);
  Reader rr(rd, "test");
  EXPECT_EQ(rr.u32(64 + 4), 1u << 20);  // Length
  EXPECT_EQ(rr.u32(64 + 36), smb2::kChannelRdmaV1);
  EXPECT_EQ(rr.u16(64 + 44), 112);
  EXPECT_EQ(rr.u64(112), d.offset);
  EXPECT_EQ(smb2::creditCharge(1u << 20), 16);
  EXPECT_EQ(smb2::creditCharge(1), 1);
  EXPECT_EQ(smb2::creditCharge(65537), 2);
}

namespace {
// One FileIdBothDirectoryInformation entry named `name` (ASCII), its NextEntryOffset `next`.
Bytes dirEntry(const std::string& name, std::uint32_t next, std::uint64_t size) {
  Bytes e(104, 0);
  put32(e, 0, next);
  for (int k = 0; k < 8; ++k) e[40 + k] = static_cast<std::uint8_t>(size >> (8 * k));
  const Bytes n = utf16le(name);
  put32(e, 60, static_cast<std::uint32_t>(n.size()));
  e.insert(e.end(), n.begin(), n.end());
  if (next) e.resize(next, 0);
  return e;
}
}  // namespace

TEST(Smb2Wire, DirectoryEntriesWalk) {
  Bytes buf = dirEntry("a.bin", 120, 7);
  const Bytes second = dirEntry("dir", 0, 0);
  buf.insert(buf.end(), second.begin(), second.end());
  const auto entries = smb2::parseDirectoryEntries(buf, smb2::kInfoFileIdBothDirectory);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].name, "a.bin");
  EXPECT_EQ(entries[0].size, 7u);
  EXPECT_EQ(entries[1].name, "dir");
}

TEST(Smb2Wire, DirectoryEntriesBadTwins) {
  Bytes pastEnd = dirEntry("a.bin", 120, 7);
  put32(pastEnd, 0, 4096);  // NextEntryOffset beyond the buffer
  EXPECT_THROW(smb2::parseDirectoryEntries(pastEnd, smb2::kInfoFileIdBothDirectory), SmbError);
  Bytes unaligned = dirEntry("a.bin", 120, 7);
  const Bytes second = dirEntry("b", 0, 0);
  unaligned.insert(unaligned.end(), second.begin(), second.end());
  put32(unaligned, 0, 116);
  EXPECT_THROW(smb2::parseDirectoryEntries(unaligned, smb2::kInfoFileIdBothDirectory), SmbError);
  Bytes backwards = unaligned;
  put32(backwards, 0, 8);  // the next entry inside this one's fixed part
  EXPECT_THROW(smb2::parseDirectoryEntries(backwards, smb2::kInfoFileIdBothDirectory), SmbError);
  Bytes longName = dirEntry("a.bin", 0, 7);
  put32(longName, 60, 0xFFFFFFF0);
  EXPECT_THROW(smb2::parseDirectoryEntries(longName, smb2::kInfoFileIdBothDirectory), SmbError);
  EXPECT_THROW(smb2::parseDirectoryEntries(ByteView(longName).first(50), smb2::kInfoFileIdBothDirectory), SmbError);
}

TEST(Ntlmssp, GuestExchange) {
  const Bytes n = ntlmssp::negotiateMessage();
  ASSERT_EQ(n.size(), 32u);
  EXPECT_EQ(Reader(n, "t").u32(8), 1u);
  ntlmssp::Challenge c;
  c.flags = 0xFFFFFFFF;
  const Bytes a = ntlmssp::authenticateGuest(c);
  Reader r(a, "t");
  ASSERT_EQ(a.size(), 64u);
  EXPECT_EQ(r.u32(8), 3u);
  EXPECT_EQ(r.u16(36), 0);  // empty user name: the guest account
}

TEST(Ntlmssp, ChallengeBadTwins) {
  const Bytes rsp = seed("smb2_responses/smb2-001");
  Bytes blob = smb2::parseSessionSetupResponse(rsp).securityBlob;
  Bytes notNtlm = blob;
  notNtlm[0] = 'X';
  EXPECT_THROW(ntlmssp::parseChallenge(notNtlm), SmbError);
  Bytes targetInfoPastEnd = blob;
  put16(targetInfoPastEnd, 40, 0xFFFF);
  EXPECT_THROW(ntlmssp::parseChallenge(targetInfoPastEnd), SmbError);
  EXPECT_THROW(ntlmssp::parseChallenge(ByteView(blob).first(30)), SmbError);
}

TEST(SmbNames, UncAndRemotePaths) {
  const UncPath u = parseUnc("//10.0.2.15:5445/share");
  EXPECT_EQ(u.host, "10.0.2.15");
  EXPECT_EQ(u.port, 5445);
  EXPECT_EQ(u.share, "share");
  const UncPath w = parseUnc("\\\\server\\data\\");
  EXPECT_EQ(w.host, "server");
  EXPECT_FALSE(w.port);
  EXPECT_EQ(w.share, "data");
  const UncPath v6 = parseUnc("//[::1]:445/s");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 445);
  EXPECT_THROW(parseUnc("host/share"), SmbError);
  EXPECT_THROW(parseUnc("//host"), SmbError);
  EXPECT_THROW(parseUnc("//host:0/share"), SmbError);
  EXPECT_THROW(parseUnc("//host:99999/share"), SmbError);
  EXPECT_THROW(parseUnc("//host/share/sub"), SmbError);
  EXPECT_EQ(remoteName("/dir/f.bin"), "dir\\f.bin");
  EXPECT_EQ(utf8(utf16le("grüße €")), "grüße €");
}

TEST(SmbTcp, FrameHeader) {
  const std::uint8_t ok[4] = {0, 0x01, 0x00, 0x00};
  EXPECT_EQ(parseTcpFrameHeader(ok, kMaxTcpMessage), 65536u);
  const std::uint8_t type[4] = {0x85, 0, 0, 0};
  EXPECT_THROW(parseTcpFrameHeader(type, kMaxTcpMessage), SmbError);
  const std::uint8_t huge[4] = {0, 0xFF, 0xFF, 0xFF};
  EXPECT_THROW(parseTcpFrameHeader(huge, kMaxTcpMessage), SmbError);
}

// [MS-NLMP] 4.2.4.1.1: NTOWFv2 of User "User", Domain "Domain", Password "Password". The whole
// NTLMv2 exchange is checked against ksmbd in the interop stage (smb_case.sh tcp: right and wrong
// password).
TEST(Ntlmssp, NtowfV2MatchesTheSpecificationsExample) {
  const auto key = ntlmssp::ntowfV2({"User", "Domain", "Password"});
  EXPECT_EQ(Bytes(key.begin(), key.end()), hexBytes("0c868a403bfd7a93a3001ef22ef02e3f"));
}

TEST(Ntlmssp, V2ResponseCarriesTheClientBlob) {
  ntlmssp::Challenge ch;
  ch.targetInfo = hexBytes("02000c0044006f006d00610069006e0001000c005300650072007600650072000000000000");
  const Bytes r = ntlmssp::ntlmV2Response({"User", "Domain", "Password"}, ch, {1, 2, 3, 4, 5, 6, 7, 8}, 0x0102030405060708ull);
  ASSERT_EQ(r.size(), 16 + 28 + ch.targetInfo.size() + 4);
  Reader b(r, "t");
  EXPECT_EQ(b.u16(16), 0x0101);                     // RespType, HiRespType
  EXPECT_EQ(b.u64(24), 0x0102030405060708ull);      // timestamp
  EXPECT_EQ(b.u64(32), 0x0807060504030201ull);      // client challenge
  EXPECT_EQ(Bytes(r.begin() + 44, r.begin() + 44 + static_cast<long>(ch.targetInfo.size())), ch.targetInfo);
}

TEST(Ntlmssp, V2BadTargetInfoIsRefused) {
  ntlmssp::Challenge ch;
  ch.targetInfo = hexBytes("0700ff00");  // a timestamp pair claiming 255 bytes
  EXPECT_THROW(ntlmssp::authenticateV2(ch, {"u", "", "p"}), SmbError);
}

TEST(Ntlmssp, Credentials) {
  const ntlmssp::Credentials c = ntlmssp::parseCredentials("WORK\\smbuser%smb%pass");
  EXPECT_EQ(c.domain, "WORK");
  EXPECT_EQ(c.user, "smbuser");
  EXPECT_EQ(c.password, "smb%pass");
  EXPECT_THROW(ntlmssp::parseCredentials("%secret"), SmbError);
}
