// LIST_ENTRY / SINGLE_LIST_ENTRY routines and CONTAINING_RECORD.
#include <gtest/gtest.h>

#include "wdk/wdm.h"

namespace {

struct Item {
  int value;
  LIST_ENTRY link;
  SINGLE_LIST_ENTRY slink;
};

int valueOf(PLIST_ENTRY e) { return CONTAINING_RECORD(e, Item, link)->value; }

TEST(RtlLists, DoublyLinked) {
  LIST_ENTRY head;
  InitializeListHead(&head);
  EXPECT_TRUE(IsListEmpty(&head));
  EXPECT_EQ(&head, RemoveHeadList(&head)) << "empty: the head itself";
  EXPECT_TRUE(IsListEmpty(&head));
  Item a{1, {}, {}}, b{2, {}, {}}, c{3, {}, {}};
  InsertTailList(&head, &b.link);
  InsertHeadList(&head, &a.link);
  InsertTailList(&head, &c.link);
  EXPECT_EQ(1, valueOf(head.Flink));
  EXPECT_EQ(3, valueOf(head.Blink));
  EXPECT_FALSE(RemoveEntryList(&b.link)) << "two remain";
  EXPECT_EQ(3, valueOf(RemoveTailList(&head)));
  EXPECT_EQ(1, valueOf(RemoveHeadList(&head)));
  EXPECT_TRUE(IsListEmpty(&head));
  InsertTailList(&head, &a.link);
  EXPECT_TRUE(RemoveEntryList(&a.link)) << "now empty";
}

TEST(RtlLists, AppendTailList) {
  LIST_ENTRY head;
  InitializeListHead(&head);
  Item a{1, {}, {}}, b{2, {}, {}}, c{3, {}, {}};
  InsertTailList(&head, &a.link);
  // A headless circular list b <-> c appended after a.
  b.link.Flink = &c.link;
  b.link.Blink = &c.link;
  c.link.Flink = &b.link;
  c.link.Blink = &b.link;
  AppendTailList(&head, &b.link);
  int expected = 1;
  for (PLIST_ENTRY e = head.Flink; e != &head; e = e->Flink) EXPECT_EQ(expected++, valueOf(e));
  EXPECT_EQ(4, expected);
  EXPECT_EQ(3, valueOf(head.Blink));
}

TEST(RtlLists, SinglyLinked) {
  SINGLE_LIST_ENTRY head{nullptr};
  EXPECT_EQ(nullptr, PopEntryList(&head));
  Item a{1, {}, {}}, b{2, {}, {}};
  PushEntryList(&head, &a.slink);
  PushEntryList(&head, &b.slink);
  EXPECT_EQ(2, CONTAINING_RECORD(PopEntryList(&head), Item, slink)->value);
  EXPECT_EQ(1, CONTAINING_RECORD(PopEntryList(&head), Item, slink)->value);
  EXPECT_EQ(nullptr, PopEntryList(&head));
}

}  // namespace
