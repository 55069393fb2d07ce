/*
 * ndk/openndk_api.h - linkage macros of the OpenNDK C ABI.
 *
 * libopenndk.so is built with -fvisibility=hidden; every function that is part
 * of the public ABI carries OPENNDK_API so that it is exported. Declarations
 * are wrapped in OPENNDK_EXTERN_C_BEGIN/END so that C++ consumers get C
 * linkage.
 */
#ifndef OPENNDK_NDK_OPENNDK_API_H
#define OPENNDK_NDK_OPENNDK_API_H

#if defined(__GNUC__) || defined(__clang__)
#define OPENNDK_API __attribute__((visibility("default")))
#else
#define OPENNDK_API
#endif

#ifdef __cplusplus
#define OPENNDK_EXTERN_C_BEGIN extern "C" {
#define OPENNDK_EXTERN_C_END }
#else
#define OPENNDK_EXTERN_C_BEGIN
#define OPENNDK_EXTERN_C_END
#endif

#endif /* OPENNDK_NDK_OPENNDK_API_H */
