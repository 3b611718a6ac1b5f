<?xml version="1.0" encoding="UTF-8"?>
<tileset version="1.10" tiledversion="1.10.2" name="tiny" tilewidth="32" tileheight="32" tilecount="6" columns="6">
 <image source="tiny.png" width="192" height="32"/>
 <tile id="0" type="grass"/>
 <tile id="1" type="road"/>
 <tile id="2" type="floor"/>
 <tile id="3" type="wall"/>
 <tile id="4" type="door"/>
 <tile id="5" type="tree"/>
</tileset>
