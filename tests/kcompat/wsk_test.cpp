// WSK registration and the NDK extension: the open path a Windows consumer uses, on top of the
// host (loopback interface).
#include <gtest/gtest.h>
#include <net/if.h>

#include <atomic>
#include <thread>

#include "wdk/wskndk.h"

namespace {

const WSK_CLIENT_DISPATCH kClientDispatch = {MAKE_WSK_VERSION(1, 0), 0, nullptr};

struct Wsk : ::testing::Test {
  void SetUp() override {
    npi.ClientContext = this;
    npi.Dispatch = &kClientDispatch;
    ASSERT_EQ(STATUS_SUCCESS, WskRegister(&npi, &reg));
    ASSERT_EQ(STATUS_SUCCESS, WskCaptureProviderNPI(&reg, WSK_INFINITE_WAIT, &provider));
    ASSERT_NE(nullptr, provider.Client);
    ASSERT_NE(nullptr, provider.Dispatch);
  }
  void TearDown() override {
    if (captured) WskReleaseProviderNPI(&reg);
    WskDeregister(&reg);
  }
  WSK_CLIENT_NPI npi{};
  WSK_REGISTRATION reg{};
  WSK_PROVIDER_NPI provider{};
  bool captured = true;
};

TEST_F(Wsk, OpenNdkAdapterThroughTheNdkExtension) {
  WSK_PROVIDER_NDK_DISPATCH ndk{};
  SIZE_T returned = 0;
  ASSERT_EQ(STATUS_SUCCESS, provider.Dispatch->WskControlClient(provider.Client, WSKNDK_GET_WSK_PROVIDER_NDK_DISPATCH,
                                                                0, nullptr, sizeof ndk, &ndk, &returned, nullptr));
  EXPECT_EQ(sizeof ndk, returned);
  ASSERT_NE(nullptr, ndk.WskOpenNdkAdapter);
  ASSERT_NE(nullptr, ndk.WskCloseNdkAdapter);
  // OutputSizeReturned may be NULL when the size is known.
  WSK_PROVIDER_NDK_DISPATCH again{};
  EXPECT_EQ(STATUS_SUCCESS, provider.Dispatch->WskControlClient(provider.Client, WSKNDK_GET_WSK_PROVIDER_NDK_DISPATCH,
                                                                0, nullptr, sizeof again, &again, nullptr, nullptr));
  NDK_ADAPTER* adapter = nullptr;
  NDK_VERSION v = {2, 0};
  ASSERT_EQ(STATUS_SUCCESS, ndk.WskOpenNdkAdapter(provider.Client, v, if_nametoindex("lo"), &adapter));
  ASSERT_NE(nullptr, adapter);
  EXPECT_EQ(NdkObjectTypeAdapter, adapter->Header.ObjectType);
  NDK_ADAPTER_INFO info{};
  ULONG size = sizeof info;
  info.Version = adapter->Header.Version;
  EXPECT_EQ(STATUS_SUCCESS, adapter->Dispatch->NdkQueryAdapterInfo(adapter, &info, &size));
  EXPECT_GT(info.MaxCqDepth, 0u);
  ndk.WskCloseNdkAdapter(provider.Client, adapter);
  NDK_ADAPTER* none = reinterpret_cast<NDK_ADAPTER*>(0x1);
  EXPECT_NE(STATUS_SUCCESS, ndk.WskOpenNdkAdapter(provider.Client, v, 0x7fffff, &none)) << "no such interface";
  EXPECT_EQ(nullptr, none);
  EXPECT_EQ(STATUS_INVALID_PARAMETER, ndk.WskOpenNdkAdapter(provider.Client, v, if_nametoindex("lo"), nullptr));
  EXPECT_EQ(STATUS_INVALID_PARAMETER,
            ndk.WskOpenNdkAdapter(reinterpret_cast<PWSK_CLIENT>(&npi), v, if_nametoindex("lo"), &adapter))
      << "not a WSK client";
}

TEST_F(Wsk, ControlClientBadInput) {
  WSK_PROVIDER_NDK_DISPATCH ndk{};
  SIZE_T returned = 0;
  auto ctl = provider.Dispatch->WskControlClient;
  EXPECT_EQ(STATUS_BUFFER_TOO_SMALL, ctl(provider.Client, WSKNDK_GET_WSK_PROVIDER_NDK_DISPATCH, 0, nullptr,
                                         sizeof ndk - 1, &ndk, &returned, nullptr));
  EXPECT_EQ(sizeof ndk, returned) << "the size needed";
  EXPECT_EQ(STATUS_INVALID_PARAMETER,
            ctl(provider.Client, WSKNDK_GET_WSK_PROVIDER_NDK_DISPATCH, 0, nullptr, 0, nullptr, &returned, nullptr));
  EXPECT_EQ(STATUS_NOT_SUPPORTED,
            ctl(provider.Client, WSK_TRANSPORT_LIST_QUERY, 0, nullptr, sizeof ndk, &ndk, &returned, nullptr));
  EXPECT_EQ(STATUS_NOT_SUPPORTED, ctl(provider.Client, WSKNDK_GET_WSK_PROVIDER_NDK_DISPATCH, 0, nullptr, sizeof ndk,
                                      &ndk, nullptr, reinterpret_cast<PIRP>(&ndk)))
      << "IRPs are not emulated";
  EXPECT_EQ(STATUS_INVALID_PARAMETER,
            ctl(nullptr, WSKNDK_GET_WSK_PROVIDER_NDK_DISPATCH, 0, nullptr, sizeof ndk, &ndk, nullptr, nullptr));
  EXPECT_EQ(STATUS_NOT_SUPPORTED, provider.Dispatch->WskSocket(provider.Client, AF_INET, 1, 6, 0, nullptr, nullptr,
                                                                nullptr, nullptr, nullptr, nullptr));
}

TEST(WskRegistration, BadInput) {
  WSK_REGISTRATION reg{};
  WSK_CLIENT_NPI npi{};
  EXPECT_EQ(STATUS_INVALID_PARAMETER, WskRegister(nullptr, &reg));
  EXPECT_EQ(STATUS_INVALID_PARAMETER, WskRegister(&npi, &reg)) << "NULL dispatch";
  const WSK_CLIENT_DISPATCH v2 = {MAKE_WSK_VERSION(2, 0), 0, nullptr};
  npi.Dispatch = &v2;
  EXPECT_EQ(STATUS_NOINTERFACE, WskRegister(&npi, &reg));
  WSK_PROVIDER_NPI provider{};
  EXPECT_EQ(STATUS_INVALID_PARAMETER, WskCaptureProviderNPI(&reg, WSK_NO_WAIT, &provider)) << "not registered";
  WskReleaseProviderNPI(&reg);
  WskDeregister(&reg);
  npi.Dispatch = &kClientDispatch;
  ASSERT_EQ(STATUS_SUCCESS, WskRegister(&npi, &reg));
  EXPECT_EQ(STATUS_INVALID_PARAMETER, WskCaptureProviderNPI(&reg, WSK_NO_WAIT, nullptr));
  WskReleaseProviderNPI(&reg);  // more releases than captures: ignored
  WskDeregister(&reg);
  WskDeregister(&reg);  // twice: ignored
}

TEST(WskRegistration, DeregisterWaitsForTheLastRelease) {
  WSK_CLIENT_NPI npi{nullptr, &kClientDispatch};
  WSK_REGISTRATION reg{};
  ASSERT_EQ(STATUS_SUCCESS, WskRegister(&npi, &reg));
  WSK_PROVIDER_NPI provider{};
  ASSERT_EQ(STATUS_SUCCESS, WskCaptureProviderNPI(&reg, WSK_NO_WAIT, &provider));
  KEVENT started, done;
  KeInitializeEvent(&started, NotificationEvent, FALSE);
  KeInitializeEvent(&done, NotificationEvent, FALSE);
  std::thread deregister([&] {
    KeSetEvent(&started, IO_NO_INCREMENT, FALSE);
    WskDeregister(&reg);
    KeSetEvent(&done, IO_NO_INCREMENT, FALSE);
  });
  ASSERT_EQ(STATUS_SUCCESS, KeWaitForSingleObject(&started, Executive, KernelMode, FALSE, nullptr));
  LARGE_INTEGER zero{};
  EXPECT_EQ(STATUS_TIMEOUT, KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, &zero)) << "still captured";
  WskReleaseProviderNPI(&reg);
  ASSERT_EQ(STATUS_SUCCESS, KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, nullptr));
  deregister.join();
}

}  // namespace
