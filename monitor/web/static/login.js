// the token form: say so when the token given was refused (the server sends us back with ?refused=1)
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("refused").hidden = !new URLSearchParams(window.location.search).has("refused");
});
