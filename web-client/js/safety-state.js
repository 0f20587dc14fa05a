// What the account did to stay safe, kept in the store so every screen can show it:
// the messages it reported (a message is reported once; the server holds the rule)
// and the people it blocked. Read when a session starts and after each change.

export async function refreshSafety(app) {
  try {
    const [mine, blocks] = await Promise.all([app.api.get('/me/reports'), app.api.get('/blocks')]);
    app.store.setMyReports(mine.reports);
    app.store.setBlocks(blocks.blocks);
  } catch (error) {
    if (error.code !== 'offline') console.warn('could not read reports and blocks', error.code);
  }
}
