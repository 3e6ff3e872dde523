/* The dashboard's map of schools (Leaflet, vendored): every [data-map] element becomes a map of
   the schools of its data-schools GeoJSON, each a dot coloured by its mode (the page's CSS),
   clustered, with a search by name, school id or ZIP code. No request leaves the site unless
   the server's settings name a tile server (data-tiles). */
(function () {
  "use strict";

  function text(tag, value, className) {
    var node = document.createElement(tag);
    node.textContent = value;
    if (className) { node.className = className; }
    return node;
  }

  function popup(p) {
    var box = document.createElement("div");
    var link = document.createElement("a");
    link.href = p.url;
    link.textContent = p.name;
    box.appendChild(link);
    box.appendChild(document.createElement("br"));
    box.appendChild(text("span", p.label, "mode mode-" + p.mode_class));
    return box;
  }

  function start(element) {
    // a maximum zoom of its own: the cluster layer needs one, and there may be no tile layer
    var map = L.map(element, { minZoom: 3, maxZoom: 18, zoomSnap: 0.5 });
    if (element.dataset.tiles) {
      L.tileLayer(element.dataset.tiles, {
        maxZoom: 19, attribution: element.dataset.attribution || ""
      }).addTo(map);
    }
    map.attributionControl.setPrefix("");
    var cluster = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 40 });
    var entries = [];
    var status = document.getElementById(element.dataset.status);
    fetch(element.dataset.schools, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (doc) {
        var placed = 0;
        doc.features.forEach(function (feature) {
          var p = feature.properties;
          if (!feature.geometry) { return; }
          var c = feature.geometry.coordinates;
          var marker = L.circleMarker([c[1], c[0]], {
            radius: 7, weight: 2, fillOpacity: 0.9,
            className: "school-marker mode-" + p.mode_class
          });
          marker.bindPopup(popup(p));
          marker.feature = feature;
          cluster.addLayer(marker);
          entries.push({ key: (p.name + " " + p.id + " " + (p.zip || "")).toLowerCase(), p: p, marker: marker });
          placed += 1;
        });
        // the view first: the cluster layer places its markers for the map's zoom
        if (placed) {
          var bounds = L.latLngBounds(entries.map(function (e) { return e.marker.getLatLng(); }));
          map.fitBounds(bounds, { padding: [20, 20], maxZoom: 15, animate: false });
        } else {
          map.setView([41.84, -87.68], 10);
        }
        map.addLayer(cluster);
        element.dataset.markers = String(placed);
        if (status) { status.textContent = status.dataset.ready; }
        element.dispatchEvent(new CustomEvent("schools-placed", { detail: placed }));
      })
      .catch(function (error) {
        if (window.console) { console.error(error); }
        if (status) { status.textContent = status.dataset.failed; }
      });

    var search = document.getElementById(element.dataset.search);
    var results = document.getElementById(element.dataset.results);
    if (search && results) {
      search.addEventListener("input", function () {
        var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
        results.replaceChildren();
        if (!words.length) { return; }
        entries.filter(function (e) {
          return words.every(function (w) { return e.key.indexOf(w) >= 0; });
        }).slice(0, 10).forEach(function (e) {
          var item = document.createElement("li");
          var button = text("button", e.p.name, "link");
          button.type = "button";
          button.addEventListener("click", function () {
            cluster.zoomToShowLayer(e.marker, function () { e.marker.openPopup(); });
          });
          item.appendChild(button);
          item.appendChild(document.createTextNode(" "));
          item.appendChild(text("span", e.p.label, "mode mode-" + e.p.mode_class));
          results.appendChild(item);
        });
      });
    }
  }

  document.querySelectorAll("[data-map]").forEach(start);
})();
