// EvilPeer: a hostile iWARP peer on a plain TCP socket. It plays the MPA initiator against an
// OpenNDK listener or the MPA responder against an OpenNDK connector, then writes whatever bytes a
// test wants (well-formed FPDUs built with src/iwarp, or garbage), and reads back what OpenNDK sends
// (FPDUs parsed with the iwarp library; a Terminate is decoded with parse_terminate).
//
// Every wait is bounded (poll with a deadline); nothing sleeps as synchronisation.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "iwarp/mpa_frame.h"
#include "iwarp/rdmap.h"
#include "iwarp/terminate.h"

namespace hardening {
namespace iwarp = openndk::iwarp;

using Bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

// What came back from OpenNDK after an attack.
struct Verdict {
  bool eof = false;           // orderly FIN seen
  bool reset = false;         // ECONNRESET / error
  bool timedOut = false;      // neither EOF nor error before the deadline
  bool terminate = false;     // a Terminate FPDU was received
  iwarp::TerminateInfo term{};
  int terminates = 0;         // how many (must be exactly one when present, IWARP.md §4.5)
  bool bytesAfterTerminate = false;  // anything after the Terminate (forbidden, §4.5 step 2)
  std::vector<iwarp::Opcode> opcodes;  // every FPDU received, in order
  std::vector<iwarp::ReadRequestHdr> readRequests;
  bool garbage = false;       // bytes that did not deframe
  std::string describe() const;
};

class EvilPeer {
 public:
  EvilPeer() = default;
  ~EvilPeer();
  EvilPeer(const EvilPeer&) = delete;
  EvilPeer& operator=(const EvilPeer&) = delete;

  // ---- transport -------------------------------------------------------------------------------
  bool connectTo(const std::string& ip, std::uint16_t port, std::chrono::milliseconds t = 5s);
  // Responder role: listen on 127.0.0.1:0 (listenPort() tells which), accept one connection.
  bool listenLocal();
  std::uint16_t listenPort() const { return listenPort_; }
  bool acceptOne(std::chrono::milliseconds t = 10s);
  bool sendAll(const std::uint8_t* p, std::size_t n);
  bool sendAll(const Bytes& b) { return sendAll(b.data(), b.size()); }
  // Reads exactly n bytes (false on EOF / error / deadline).
  bool recvExact(std::uint8_t* p, std::size_t n, std::chrono::milliseconds t = 10s);
  // Reads everything until the peer closes; *closed = false on deadline.
  Bytes drainUntilClosed(std::chrono::milliseconds t, bool* closed);
  // Waits until the peer closes (EOF or reset); false on deadline.
  bool waitClosed(std::chrono::milliseconds t = 10s);
  void closeGraceful();   // shutdown(WR) + close
  void closeReset();      // SO_LINGER 0 + close: RST
  void shutdownWrite();   // FIN, keep reading
  int fd() const { return fd_; }
  std::uint16_t localPort() const;

  // ---- MPA ---------------------------------------------------------------------------------------
  // A valid enhanced (rev 2, S=1, P2P, Write RTR) Request with C=1.
  static Bytes goodRequest(std::uint16_t ird = 4, std::uint16_t ord = 4, const Bytes& pd = {});
  // A valid Reply for a Request (echoes A, chooses Write RTR, C=1).
  static Bytes goodReply(std::uint16_t ird = 4, std::uint16_t ord = 4, const Bytes& pd = {});
  // Reads one MPA frame (20 + PD_Length) of the given kind; nullopt on failure / close.
  std::optional<Bytes> readFrame(std::chrono::milliseconds t = 10s);
  // Initiator: send goodRequest and read the Reply (not the RTR yet). Returns the Reply bytes.
  bool sendRequest(const Bytes& req) { return sendAll(req); }
  // Initiator, after the Reply: the zero-length Write RTR (STag 1, TO 0).
  bool sendRtr();

  // ---- FPDUs ---------------------------------------------------------------------------------------
  bool crc = true;
  // Frames header+payload as one FPDU (with CRC if `crc`).
  static Bytes frame(const Bytes& ulpdu, bool withCrc = true);
  static Bytes taggedWrite(std::uint32_t stag, std::uint64_t to, const Bytes& payload, bool last = true);
  static Bytes untaggedSend(std::uint32_t msn, std::uint32_t mo, const Bytes& payload, bool last = true,
                            iwarp::Opcode op = iwarp::Opcode::Send, std::uint32_t invStag = 0);
  static Bytes readRequest(std::uint32_t msn, const iwarp::ReadRequestHdr& r);
  // Raw ULPDU with arbitrary control bytes (version/opcode games).
  static Bytes rawUntagged(std::uint8_t ddpCtrl, std::uint8_t rdmapCtrl, std::uint32_t qn, std::uint32_t msn,
                           std::uint32_t mo, const Bytes& payload);
  bool sendFpdu(const Bytes& ulpdu) { return sendAll(frame(ulpdu, crc)); }

  // Reads FPDUs until EOF/reset or the deadline; decodes every FPDU and any Terminate.
  Verdict collect(std::chrono::milliseconds t = 10s);

 private:
  int fd_ = -1;
  int lfd_ = -1;
  std::uint16_t listenPort_ = 0;
};

}  // namespace hardening
