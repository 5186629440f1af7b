/** A 1 KB order, the kind of body a checkout POST carries. */
export const ORDER = JSON.stringify({
  orderId: 'c8f1e0a2-5b7d-4e19-9a3c-2f6d8b1e4a70',
  customer: { id: 'usr_48213', email: 'jane.doe@example.com' },
  currency: 'EUR',
  shipping: {
    name: 'Jane Doe',
    street: 'Hauptstrasse 12',
    city: 'Frankfurt am Main',
    postcode: '60311',
    country: 'DE',
  },
  lines: Array.from({ length: 14 }, (_, i) => ({
    sku: `WDG-${1040 + i}-BLU`,
    quantity: 1 + (i % 3),
    unitPrice: '19.90',
  })),
});
