// Stands in for react-devtools-core in the bundle. Ink imports it only when DEV=true (to connect to
// the React DevTools app); the published CLI does not ship the DevTools client, so say so instead.
const unavailable = () => {
  throw new Error('React DevTools are not part of the packaged CLI; run from source with react-devtools-core installed to use DEV=true.');
};
export default { initialize: unavailable, connectToDevTools: unavailable };
