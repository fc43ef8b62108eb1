// What the specs read of the page beyond what its locators show.

// Whether page still holds secret anywhere a script or a later visitor of
// the page could read it: a field's value (which page.content() does not
// show), the document, the storages, the address.
export async function holds(page, secret) {
  return page.evaluate((forms) => {
    const places = [document.documentElement.outerHTML, location.href,
      ...Array.from(document.querySelectorAll('input, textarea'), (e) => e.value)];
    for (const store of [localStorage, sessionStorage]) {
      for (let i = 0; i < store.length; i++) places.push(store.key(i), store.getItem(store.key(i)));
    }
    return places.some((text) => forms.some((f) => text.includes(f)));
  }, [secret, encodeURIComponent(secret)]);
}
