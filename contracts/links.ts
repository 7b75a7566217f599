/**
 * Where the emails link to: the web pages, under PUBLIC_BASE_URL (the API's JSON answers are for programs, and
 * need a token). A reader who is not signed in is asked to sign in and then comes back to the page.
 */
export function pageLinks(publicBaseUrl: string) {
  const base = `${publicBaseUrl.replace(/\/+$/, '')}/app`;
  return {
    order: (orderId: string) => `${base}/orders/${encodeURIComponent(orderId)}`,
    /** the order's page at its cancellation section (preview, form) */
    orderCancellation: (orderId: string) => `${base}/orders/${encodeURIComponent(orderId)}#cancel-heading`,
    ticket: (number: string) => `${base}/support/${encodeURIComponent(number)}`,
    invoice: (month: string) => `${base}/invoices/${encodeURIComponent(month)}`,
  };
}
