/* libopenndk.so is assembled from the rooms' static libraries; this unit only anchors the target. */
typedef int openndk_empty_translation_unit;
